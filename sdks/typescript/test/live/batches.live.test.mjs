// Batches through the SDK against a running server (run by tests/test_sdk_typescript.py, like
// video.live.test.mjs): generateBatch, batch, waitBatch, cancelBatch, and another project's batch.

import assert from "node:assert/strict";
import { test } from "node:test";

import { InfraiClient, NotFoundError } from "../../dist/esm/index.js";

const baseUrl = process.env.INFRAI_BASE_URL;
if (!baseUrl || !process.env.INFRAI_API_KEY)
  throw new Error(
    "INFRAI_BASE_URL / INFRAI_API_KEY are not set: run these through tests/test_sdk_typescript.py",
  );
const TEST = { timeout: 180_000 };
const client = new InfraiClient({ baseUrl, pollPacing: { intervalMs: 300, maxIntervalMs: 1000 } });

test("generateBatch starts one ordinary job per item and waitBatch sees them all succeed", TEST, async () => {
  const batch = await client.video.generateBatch([
    { prompt: "ts batch one", duration_seconds: 1 },
    { prompt: "ts batch two", duration_seconds: 1 },
  ]);
  assert.match(batch.batch_id, /^bat_[0-9a-z]{26}$/);
  assert.deepEqual(
    batch.items.map((item) => item.index),
    [0, 1],
  );
  const done = await client.video.waitBatch(batch.batch_id, { timeoutMs: 120_000 });
  assert.equal(done.state, "completed");
  assert.equal(done.counts.succeeded, 2);
  const job = await client.video.status(done.items[1].job_id);
  assert.equal(job.state, "succeeded");
  assert.equal((await client.video.batch(batch.batch_id)).batch_id, batch.batch_id);
});

test("cancelBatch cancels every unfinished item", TEST, async () => {
  const batch = await client.video.generateBatch([
    { prompt: "ts slow tide one", duration_seconds: 30 },
    { prompt: "ts slow tide two", duration_seconds: 30 },
  ]);
  await client.video.cancelBatch(batch.batch_id);
  const done = await client.video.waitBatch(batch.batch_id, { timeoutMs: 120_000 });
  assert.equal(done.counts.cancelled, 2);
});

test("another project's batch is NotFoundError", TEST, async () => {
  const batch = await client.video.generateBatch([{ prompt: "ts private", duration_seconds: 1 }]);
  const activation = await fetch(`${baseUrl}/v1/accounts/activate`, { method: "POST" }).then((r) => r.json());
  const other = new InfraiClient({ baseUrl, apiKey: activation.api_key });
  await assert.rejects(other.video.batch(batch.batch_id), NotFoundError);
});
