// The batch panel: up to 100 jobs in one request (each prompt line, as many variations as asked, with the
// settings of the generate form), its items' states while it runs, and cancelling what has not finished.
"use strict";

const MAX_BATCH_ITEMS = 100;
let batchPolling = null; // AbortController of the batch being watched

function batchItems() {
  const prompts = $("batch-prompts").value.split("\n").map((line) => line.trim()).filter(Boolean);
  const variations = Number($("batch-variations").value) || 1;
  const count = prompts.length * variations;
  if (!count || count > MAX_BATCH_ITEMS) {
    throw new Error(`a batch has 1 to ${MAX_BATCH_ITEMS} items; these settings make ${count}`);
  }
  return prompts.flatMap((prompt) => Array.from({ length: variations }, () => generateBody(prompt)));
}

function showBatch(batch) {
  $("batch-summary").hidden = false;
  $("batch-id").textContent = batch.batch_id;
  $("batch-state").textContent = batch.state;
  $("batch-counts").textContent = Object.entries(batch.counts)
    .filter(([, n]) => n).map(([state, n]) => `${n} ${state}`).join(", ");
  $("cancel-batch").disabled = batch.state === "completed";
  $("batch-items").replaceChildren(...batch.items.map((job) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const error = job.error ? ` · ${job.error.code}` : "";
    button.textContent = `#${job.index} · ${job.state.padEnd(9)} · ${job.job_id}${error}`;
    button.addEventListener("click", () => { show(job); follow(job.job_id); });
    item.append(button);
    return item;
  }));
}

// Polls the batch until every item has ended (a batch has no event stream; each item's job has).
async function watchBatch(batchId) {
  if (batchPolling) batchPolling.abort();
  const controller = new AbortController();
  batchPolling = controller;
  while (!controller.signal.aborted) {
    try {
      const batch = await api(`/v1/video/batches/${encodeURIComponent(batchId)}`);
      if (controller.signal.aborted) return;
      showBatch(batch);
      if (batch.state === "completed") break;
    } catch (err) {
      $("batch-error").textContent = `Could not read the batch: ${err.message}`;
    }
    await sleep(1000);
  }
  if (!controller.signal.aborted) refreshRecent();
}

// A refused batch names each refused item after the reason.
function describeBatchRefusal(err) {
  const refused = (err.problem && err.problem.items) || [];
  const items = refused.map((item) => ` #${item.index} ${item.code}: ${item.detail}`).join(";");
  return `${describeRefusal(err)}${items}`;
}

onStartForm("batch-form", "start-batch", "batch-error", async () => {
  const batch = await postJson("/v1/video/batches", {
    items: batchItems(),
    idempotency_key: newIdempotencyKey(),
  });
  showBatch(batch);
  watchBatch(batch.batch_id);
}, describeBatchRefusal);

$("cancel-batch").addEventListener("click", async () => {
  const batchId = $("batch-id").textContent;
  try {
    showBatch(await api(`/v1/video/batches/${encodeURIComponent(batchId)}/cancel`, { method: "POST" }));
  } catch (err) {
    $("batch-error").textContent = `Cancel failed: ${err.message}`;
  }
});
