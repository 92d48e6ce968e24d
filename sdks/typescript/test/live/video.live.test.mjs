// The SDK against a running Infrai Video server (tests/test_sdk_typescript.py starts one and runs this):
//   INFRAI_BASE_URL, INFRAI_API_KEY   the server and a key with credits (the local vendor is free)
//   INFRAI_PRICED_BASE_URL            a server whose trial credits cannot pay for a job of
//   INFRAI_PRICED_VENDOR              this priced vendor (for 402)
//   INFRAI_LIVE_OUT_DIR               where the downloaded MP4 is left, so the caller can decode it

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import {
  AuthenticationError,
  ConflictError,
  InfraiClient,
  InsufficientCreditsError,
  NotFoundError,
} from "../../dist/esm/index.js";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these through tests/test_sdk_typescript.py`);
  return value;
}

const baseUrl = required("INFRAI_BASE_URL");
required("INFRAI_API_KEY"); // the client reads it from the environment, as a user's would
const WAIT_MS = 120_000;
const TEST = { timeout: 180_000 };
// Polls a little faster than the default (1 s growing to 10 s) so short test jobs are seen promptly.
const quickPolls = { pollPacing: { intervalMs: 300, maxIntervalMs: 1000 } };
const client = new InfraiClient({ baseUrl, ...quickPolls });
const UNKNOWN_JOB = `vid_${"0".repeat(26)}`;

async function rejection(promise) {
  return promise.then(
    (value) => assert.fail(`expected an error, got ${JSON.stringify(value)}`),
    (error) => error,
  );
}

async function waitUntil(jobId, predicate) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const job = await client.video.status(jobId);
    if (predicate(job) || Date.now() > deadline) return job;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test(
  "generate, wait and download save the job's MP4, its size and sha256 as the job says",
  TEST,
  async () => {
    const started = await client.video.generate({ prompt: "a paper boat on a pond", duration_seconds: 1 });
    assert.match(started.job_id, /^vid_[0-9a-z]{26}$/);
    assert.ok(["queued", "running"].includes(started.state), started.state);
    assert.equal(started.vendor, "local");
    assert.equal(started.cost.estimated_usd, "0.00");
    const seen = [];
    const job = await client.video.wait(started.job_id, { timeoutMs: WAIT_MS, onPoll: (j) => seen.push(j) });
    assert.equal(job.state, "succeeded", JSON.stringify(job));
    assert.equal(seen.at(-1).job_id, started.job_id);
    assert.equal(job.progress, 100);
    assert.deepEqual([job.video.width, job.video.height, job.video.frame_count], [1280, 720, 24]);
    const folder = process.env.INFRAI_LIVE_OUT_DIR || (await mkdtemp(join(tmpdir(), "infrai-live-")));
    const saved = await client.video.download(job.job_id, folder);
    assert.equal(saved, join(folder, `${job.job_id}.mp4`));
    const bytes = await readFile(saved);
    assert.equal(bytes.length, job.video.size_bytes);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), job.video.sha256);
    assert.equal(bytes.subarray(4, 8).toString("latin1"), "ftyp"); // an MP4 (the caller decodes it)
  },
);

test("generate with wait resolves with the finished job", TEST, async () => {
  const job = await client.video.generate({
    prompt: "a lantern rising",
    duration_seconds: 1,
    aspect: "1:1",
    wait: true,
    waitTimeoutMs: WAIT_MS,
  });
  assert.equal(job.state, "succeeded", JSON.stringify(job));
  assert.ok(job.video_url && job.thumbnail_url);
  assert.deepEqual([job.video.width, job.video.height], [720, 720]);
});

test("cancel mid-job ends it cancelled and unbilled", TEST, async () => {
  const started = await client.video.generate({ prompt: "a long slow sunrise", duration_seconds: 6 });
  const generating = await waitUntil(
    started.job_id,
    (j) => j.stage === "generating" || (j.state !== "queued" && j.state !== "running"),
  );
  assert.equal(generating.stage, "generating", JSON.stringify(generating));
  const cancelled = await client.video.cancel(started.job_id);
  assert.deepEqual([cancelled.ok, cancelled.job_id], [true, started.job_id]);
  const job = await client.video.wait(started.job_id, { timeoutMs: WAIT_MS });
  assert.equal(job.state, "cancelled");
  assert.equal(job.error.code, "cancelled");
  assert.equal(job.error.billed, false);
  assert.equal(job.cost.settled_usd, "0.00");
});

test("a bad key is an AuthenticationError", TEST, async () => {
  const stranger = new InfraiClient({ baseUrl, apiKey: "ifr_pk_proj_not_a_real_key" });
  const error = await rejection(stranger.video.generate({ prompt: "a kite" }));
  assert.ok(error instanceof AuthenticationError, String(error));
  assert.deepEqual([error.status, error.code], [401, "unauthorized"]);
});

test("an unknown job is a NotFoundError", TEST, async () => {
  const error = await rejection(client.video.status(UNKNOWN_JOB));
  assert.ok(error instanceof NotFoundError, String(error));
  assert.deepEqual([error.status, error.code], [404, "not_found"]);
  assert.ok(error.requestId);
  assert.ok((await rejection(client.video.cancel(UNKNOWN_JOB))) instanceof NotFoundError);
});

test("an idempotency key returns its job, and a ConflictError for another body", TEST, async () => {
  const idempotency_key = `ts-live-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const first = await client.video.generate({ prompt: "a koi pond", duration_seconds: 1, idempotency_key });
  const again = await client.video.generate({ prompt: "a koi pond", duration_seconds: 1, idempotency_key });
  assert.equal(again.job_id, first.job_id);
  const error = await rejection(
    client.video.generate({ prompt: "another pond", duration_seconds: 1, idempotency_key }),
  );
  assert.ok(error instanceof ConflictError, String(error));
  assert.deepEqual(
    [error.status, error.code, error.problem.job_id],
    [409, "idempotency_conflict", first.job_id],
  );
});

test("a job the trial cannot pay for is an InsufficientCreditsError", TEST, async () => {
  const pricedUrl = required("INFRAI_PRICED_BASE_URL");
  const activation = await new InfraiClient({ baseUrl: pricedUrl }).accounts.activate();
  const trial = Number(activation.trial_credits_usd);
  const priced = new InfraiClient({ baseUrl: pricedUrl, apiKey: activation.api_key });
  const error = await rejection(
    priced.video.generate({
      prompt: "a horse",
      vendor: required("INFRAI_PRICED_VENDOR"),
      duration_seconds: 5,
    }),
  );
  assert.ok(error instanceof InsufficientCreditsError, String(error));
  assert.deepEqual([error.status, error.code], [402, "insufficient_credits"]);
  assert.ok(Number(error.problem.required_usd) > trial, JSON.stringify(error.problem));
  assert.equal(error.problem.available_usd, activation.trial_credits_usd); // money as everywhere: "0.10"
  assert.equal((await priced.accounts.retrieve()).held_usd, "0.00");
});

test("webhook messages list page by page, and an unknown one is a NotFoundError", TEST, async () => {
  // A fresh project: no job of it has a webhook, so it has no messages, and another's are not its own.
  const activation = await new InfraiClient({ baseUrl }).accounts.activate();
  const fresh = new InfraiClient({ baseUrl, apiKey: activation.api_key });
  const listed = [];
  for await (const m of fresh.webhooks.deliveries({ outcome: "failed", limit: 1 })) listed.push(m);
  assert.deepEqual(listed, []);
  const page = await fresh.webhooks.deliveriesPage({ outcome: "failed" });
  assert.deepEqual(page, { data: [], has_more: false, next: null });
  const job = await fresh.video.generate({ prompt: "a quiet field", duration_seconds: 1, wait: true });
  const error = await rejection(fresh.webhooks.redeliver(job.job_id, `msg_${job.job_id}_succeeded`));
  assert.ok(error instanceof NotFoundError, String(error));
  assert.deepEqual([error.status, error.code], [404, "not_found"]);
});
