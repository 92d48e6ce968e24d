// The playground: a thin client of the public API, no build step. The key stays in this browser
// (localStorage) and is sent only to this API, as a Bearer token.
"use strict";

const KEY_STORAGE = "infrai.apiKey";
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let apiKey = localStorage.getItem(KEY_STORAGE) || "";
let following = null; // AbortController of the event stream being followed

function authHeaders() {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

// The key's rate limits as the last answer told them (the IETF RateLimit field: `"default";r=2999;t=42`).
function showRateLimit(field) {
  const names = { default: "calls", jobs: "job creations" };
  const parts = [...field.matchAll(/"?([\w-]+)"?;r=(\d+)(?:;t=(\d+))?/g)].map(
    ([, policy, left, reset]) => `${left} ${names[policy] || policy} left` + (reset ? ` (resets in ${reset} s)` : ""));
  if (parts.length) $("rate-limit").textContent = `Rate limit: ${parts.join(", ")}`;
}

// A refused call throws an Error whose message is the problem's detail, with the whole problem (RFC 9457:
// `code`, and what the code adds, e.g. a budget's `resets_at`) on `err.problem`.
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  showRateLimit(response.headers.get("RateLimit") || "");
  if (!response.ok) {
    let problem = { status: response.status };
    try {
      problem = { ...problem, ...(await response.json()) };
    } catch (_) { /* not JSON */ }
    const err = new Error(problem.detail || problem.title || `${response.status} ${response.statusText}`);
    err.problem = problem;
    throw err;
  }
  return response.status === 204 ? null : response.json();
}

const postJson = (path, body) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

// A fresh idempotency key for each batch started: without one the API derives the batch from its body, and
// the same prompts asked for again would answer the earlier batch instead of starting a new one.
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "playground-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// "budget_exceeded: The project's daily budget … (resets 00:00:00)": what was refused and why, in full.
function describeRefusal(err) {
  const problem = err.problem || {};
  const resets = problem.resets_at ? ` (resets ${new Date(problem.resets_at).toLocaleString()})` : "";
  return problem.code ? `${problem.code}: ${err.message}${resets}` : err.message;
}

// A form that starts something: its button is disabled while `start` runs, and a refusal is shown in the
// form's error line, worded by `refusal`.
function onStartForm(formId, buttonId, errorId, start, refusal = describeRefusal) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $(buttonId);
    button.disabled = true;
    $(errorId).textContent = "";
    try {
      await start();
    } catch (err) {
      $(errorId).textContent = `Not started: ${refusal(err)}`;
    } finally {
      button.disabled = false;
    }
  });
}

function setKey(key, note) {
  apiKey = key.trim();
  localStorage.setItem(KEY_STORAGE, apiKey);
  $("api-key").value = apiKey;
  $("key-status").textContent = note;
  refreshRecent();
  document.dispatchEvent(new Event("infrai:key")); // the other panels reload for the new key
}

// -- one job -----------------------------------------------------------------------------------------

// "about 1m 10s (measured) · queue #2 · by 12:03:40": what the API expects of a running job.
function describeEta(job) {
  if (FINAL.has(job.state) || job.eta_seconds == null) return "–";
  const minutes = Math.floor(job.eta_seconds / 60);
  const seconds = job.eta_seconds % 60;
  const span = minutes ? `${minutes}m ${seconds}s` : `${seconds}s`;
  const parts = [`about ${span} (${job.eta_source === "measured" ? "measured" : "catalog estimate"})`];
  if (job.queue_position != null) parts.push(`queue #${job.queue_position + 1}`);
  if (job.expected_finish_at) parts.push(`by ${new Date(job.expected_finish_at).toLocaleTimeString()}`);
  return parts.join(" · ");
}

function show(job) {
  $("job").hidden = false;
  $("job-id").textContent = job.job_id;
  $("job-state").textContent = job.state;
  $("job-stage").textContent = job.stage || "–";
  $("job-vendor").textContent = job.vendor ? `${job.vendor} / ${job.model}` : "–";
  $("job-cost").textContent = `$${job.cost.settled_usd ?? job.cost.estimated_usd}`;
  $("job-deadline").textContent = job.deadline_at ? new Date(job.deadline_at).toLocaleTimeString() : "–";
  $("job-progress").value = job.progress ?? (FINAL.has(job.state) ? 100 : 0);
  $("job-eta").textContent = describeEta(job);
  if (job.warnings) $("job-warnings").textContent = job.warnings.map((w) => w.message).join(" ");
  $("job-error").textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
  $("cancel").disabled = FINAL.has(job.state);
  const player = $("player");
  if (job.state === "succeeded" && job.video_url && player.dataset.job !== job.job_id) {
    player.dataset.job = job.job_id;
    if (job.thumbnail_url) player.poster = job.thumbnail_url;
    player.src = job.video_url;
    player.hidden = false;
  }
  if (FINAL.has(job.state)) refreshRecent();
}

function parseEvent(block) {
  const event = { id: null, data: [] };
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    if (field === "data") event.data.push(value);
  }
  return event;
}

// Server-Sent Events over fetch (EventSource cannot send an Authorization header). A dropped stream is
// resumed with Last-Event-ID, so a restarted API sends only what this page has not seen.
async function follow(jobId) {
  if (following) following.abort();
  const controller = new AbortController();
  following = controller;
  const player = $("player");
  if (player.dataset.job !== jobId) {
    player.removeAttribute("src");
    player.hidden = true;
    delete player.dataset.job;
  }
  let lastEventId = "";
  while (!controller.signal.aborted) {
    try {
      const headers = { ...authHeaders(), Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await fetch(`/v1/video/jobs/${encodeURIComponent(jobId)}/events`,
        { headers, signal: controller.signal });
      if (response.status === 204) return;
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = parseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.id) lastEventId = event.id;
          if (!event.data.length) continue;
          const job = JSON.parse(event.data.join("\n"));
          show(job);
          if (FINAL.has(job.state)) return;
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      $("job-error").textContent = `connection lost (${err.message}); reconnecting…`;
    }
    await sleep(1000);
  }
}

// -- lists and actions ---------------------------------------------------------------------------------

// Models to pin: the available ones, never a retired one; deprecated ones say so and name the successor.
async function loadModels() {
  try {
    const listing = await api("/v1/video/models");
    const usable = listing.data.filter((m) => m.available && m.lifecycle !== "retired");
    $("model").append(...usable.map((m) => {
      const option = document.createElement("option");
      option.value = m.id;
      const note = m.lifecycle === "deprecated" ? ` (deprecated${m.successor ? `, use ${m.successor}` : ""})` : "";
      option.textContent = `${m.name}${note}`;
      return option;
    }));
  } catch (_) { /* the automatic choice still works */ }
}

async function refreshRecent() {
  const list = $("recent");
  if (!apiKey) return;
  document.dispatchEvent(new Event("infrai:jobs")); // jobs started or ended: the budget panel reloads
  try {
    const page = await api("/v1/video/jobs?limit=10");
    list.replaceChildren(...page.data.map((job) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const when = new Date(job.created_at).toLocaleTimeString();
      button.textContent = `${when} · ${job.state.padEnd(9)} · ${job.job_id}`;
      button.addEventListener("click", () => { show(job); follow(job.job_id); });
      item.append(button);
      return item;
    }));
  } catch (err) {
    list.replaceChildren();
    $("key-status").textContent = `Could not list jobs: ${err.message}`;
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey($("api-key").value, "Key saved in this browser.");
});

$("activate").addEventListener("click", async () => {
  try {
    const trial = await api("/v1/accounts/activate", { method: "POST" });
    setKey(trial.api_key, `Trial activated: $${trial.balance_usd} of credits. Keep the key: it is shown once.`);
  } catch (err) {
    $("key-status").textContent = `Activation failed: ${err.message}`;
  }
});

// The generate body the form describes; a batch sends one per prompt.
function generateBody(prompt) {
  const body = {
    prompt,
    resolution: $("resolution").value,
    aspect: $("aspect").value,
    prefer: $("prefer").value,
    duration_seconds: Number($("duration").value),
  };
  // Empty means no deadline: the field is left out rather than sent as null.
  if ($("deadline").value) body.deadline_seconds = Number($("deadline").value);
  const pinned = $("model").value;
  if (pinned) {
    const at = pinned.indexOf("/");
    body.vendor = pinned.slice(0, at);
    body.model = pinned.slice(at + 1);
  }
  return body;
}

onStartForm("generate-form", "generate", "generate-error", async () => {
  $("job-warnings").textContent = "";
  const job = await postJson("/v1/video/generate", generateBody($("prompt").value));
  show(job);
  refreshRecent();
  follow(job.job_id);
});

$("cancel").addEventListener("click", async () => {
  const jobId = $("job-id").textContent;
  try {
    await api(`/v1/video/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" });
  } catch (err) {
    $("job-error").textContent = `Cancel failed: ${err.message}`;
  }
});

$("refresh").addEventListener("click", refreshRecent);

$("api-key").value = apiKey;
loadModels();
if (apiKey) {
  $("key-status").textContent = "Using the key saved in this browser.";
  refreshRecent();
}
