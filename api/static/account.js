// The account panels: the project's budget (caps, and what counts against them now) with a form to set it,
// the month's usage from the ledger, and the webhook messages no attempt has delivered, to send again.
"use strict";

const capText = (value, unit) => (value == null ? "none" : `${unit}${value}`);

function cell(text, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = text == null ? "–" : String(text);
  return element;
}

// -- budget ----------------------------------------------------------------------------------------------

function showBudget(budget) {
  $("budget-daily").textContent = capText(budget.daily_usd, "$");
  $("budget-monthly").textContent = capText(budget.monthly_usd, "$");
  $("budget-concurrency").textContent = capText(budget.max_concurrent_jobs, "");
  $("budget-today").textContent = `$${budget.spent_today_usd}`;
  $("budget-month").textContent = `$${budget.spent_this_month_usd}`;
  $("budget-running").textContent = String(budget.running_jobs);
  // The form starts from the caps in force, so saving changes only what was edited; a refresh while
  // someone is editing it leaves their figures alone.
  if (capsEdited) return;
  $("cap-daily").value = budget.daily_usd ?? "";
  $("cap-monthly").value = budget.monthly_usd ?? "";
  $("cap-concurrency").value = budget.max_concurrent_jobs ?? "";
}

// Only the latest budget answer is shown: a slow read must not undo a save that answered after it.
let budgetRequests = 0;
let capsEdited = false; // the form has figures not saved yet

async function latestBudget(request, { saved = false } = {}) {
  const mine = ++budgetRequests;
  const budget = await request;
  if (saved) capsEdited = false;
  if (mine === budgetRequests) showBudget(budget);
}

async function refreshBudget() {
  if (!apiKey) return;
  try {
    await latestBudget(api("/v1/account/budgets").then((budgets) => budgets.project));
  } catch (err) {
    $("budget-status").textContent = `Could not read the budget: ${err.message}`;
  }
}

// Money goes as the decimal string typed (never a float); an empty field is no cap of that kind.
function budgetCaps() {
  const text = (id) => $(id).value.trim() || null;
  const jobs = text("cap-concurrency");
  return { daily_usd: text("cap-daily"), monthly_usd: text("cap-monthly"),
    max_concurrent_jobs: jobs == null ? null : Number(jobs) };
}

$("budget-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await latestBudget(api("/v1/account/budgets", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(budgetCaps()),
    }), { saved: true });
    $("budget-status").textContent = "Budget saved.";
  } catch (err) {
    $("budget-status").textContent = `Not saved: ${describeRefusal(err)}`;
  }
});

// -- usage -----------------------------------------------------------------------------------------------

const USAGE_COLUMNS = { day: ["day"], vendor: ["vendor"], model: ["vendor", "model"], key: ["key_id"] };

async function showUsage() {
  const groupBy = $("usage-group").value;
  try {
    const report = await api(`/v1/account/usage?group_by=${encodeURIComponent(groupBy)}`);
    const columns = USAGE_COLUMNS[groupBy];
    const table = $("usage");
    table.tHead.rows[0].replaceChildren(...[...columns, "jobs", "charged (USD)"].map((name) => cell(name, "th")));
    const rows = report.data.map((line) => {
      const row = document.createElement("tr");
      row.append(...columns.map((name) => cell(line[name])), cell(line.jobs), cell(line.charged_usd));
      return row;
    });
    if (!rows.length) { // free jobs (the local renderer) charge nothing, so they are not listed
      rows.push(document.createElement("tr"));
      rows[0].append(cell("no charges"));
      rows[0].cells[0].colSpan = columns.length + 2;
    }
    table.tBodies[0].replaceChildren(...rows);
    const total = [cell(`total ${report.from} to ${report.to}`, "th"), cell(report.total.jobs),
      cell(report.total.charged_usd)];
    total[0].colSpan = columns.length;
    table.tFoot.rows[0].replaceChildren(...total);
    table.hidden = false;
  } catch (err) {
    $("budget-status").textContent = `Could not read the usage: ${err.message}`;
  }
}

$("usage-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showUsage();
});

// -- failed webhook deliveries -----------------------------------------------------------------------------

let deliveriesNext = null; // the cursor of the next page, null on the last one

async function redeliver(message, outcomeCell, button) {
  button.disabled = true;
  outcomeCell.textContent = "sending…";
  try {
    const path = `/v1/video/jobs/${encodeURIComponent(message.job_id)}/webhook-deliveries/`
      + `${encodeURIComponent(message.message_id)}/redeliver`;
    const attempt = await api(path, { method: "POST" });
    const answer = attempt.status_code ?? attempt.error ?? "";
    outcomeCell.textContent = `redelivered: ${attempt.outcome}${answer ? ` (${answer})` : ""}`;
  } catch (err) {
    outcomeCell.textContent = `redelivery refused: ${describeRefusal(err)}`;
  } finally {
    button.disabled = false;
  }
}

function deliveryRow(message) {
  const row = document.createElement("tr");
  const answer = cell(`${message.last_outcome} ${message.last_status_code ?? message.last_error ?? ""}`);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = "Redeliver";
  button.addEventListener("click", () => redeliver(message, answer, button));
  const action = document.createElement("td");
  action.append(button);
  row.dataset.message = message.message_id;
  row.append(cell(new Date(message.last_attempt_at).toLocaleString()), cell(message.job_id),
    cell(message.event), cell(message.attempts), answer, action);
  return row;
}

async function refreshDeliveries(more = false) {
  if (!apiKey) return;
  const after = more && deliveriesNext ? `&after=${encodeURIComponent(deliveriesNext)}` : "";
  try {
    const page = await api(`/v1/account/webhook-deliveries?outcome=failed&limit=20${after}`);
    const body = $("failed-deliveries").tBodies[0];
    const rows = page.data.map(deliveryRow);
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    deliveriesNext = page.has_more ? page.next : null;
    $("more-deliveries").hidden = !page.has_more;
    $("failed-deliveries").hidden = body.rows.length === 0;
    $("deliveries-status").textContent = body.rows.length ? "" : "No failed deliveries.";
  } catch (err) {
    $("deliveries-status").textContent = `Could not list deliveries: ${err.message}`;
  }
}

$("budget-form").addEventListener("input", () => { capsEdited = true; });
$("refresh-budget").addEventListener("click", () => { capsEdited = false; refreshBudget(); });
$("refresh-deliveries").addEventListener("click", () => refreshDeliveries());
$("more-deliveries").addEventListener("click", () => refreshDeliveries(true));
document.addEventListener("infrai:jobs", refreshBudget);
document.addEventListener("infrai:key", () => refreshDeliveries());
refreshBudget();
refreshDeliveries();
