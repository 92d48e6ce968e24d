// `client.webhooks`: failed messages page by page (async iteration), and redelivery with one idempotency key
// across retries.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ConflictError, InfraiClient } from "../dist/esm/index.js";
import { fastOptions, problem, startScriptedServer } from "./scripted-server.mjs";

delete process.env.INFRAI_API_KEY;
delete process.env.INFRAI_BASE_URL;

const LIST = "/v1/account/webhook-deliveries";
const REDELIVER = "/v1/video/jobs/vid_a/webhook-deliveries/msg_vid_a_succeeded/redeliver";

function message(jobId) {
  return {
    job_id: jobId,
    message_id: `msg_${jobId}_succeeded`,
    event: "succeeded",
    outcome: "failed",
    attempts: 3,
    last_outcome: "failed",
    last_status_code: 503,
    last_error: null,
    first_attempt_at: "2026-12-07T05:00:00Z",
    last_attempt_at: "2026-12-07T05:10:00Z",
  };
}

function page(jobIds, next = null) {
  return { json: { data: jobIds.map(message), has_more: next !== null, next } };
}

const REDELIVERY = {
  job_id: "vid_a",
  message_id: "msg_vid_a_succeeded",
  event: "succeeded",
  outcome: "delivered",
  attempt: 4,
  status_code: 200,
  error: null,
  requested_at: "2026-12-07T06:00:00Z",
  replayed: false,
};

let server;
before(async () => {
  server = await startScriptedServer();
});
after(() => server.close());

test("deliveries iterates every page, following next", async () => {
  server.on("GET", LIST, page(["vid_c", "vid_b"], "cur1"), page(["vid_a"]));
  const client = new InfraiClient(fastOptions(server.baseUrl));
  const found = [];
  for await (const m of client.webhooks.deliveries({ outcome: "failed", limit: 2 })) found.push(m.job_id);
  assert.deepEqual(found, ["vid_c", "vid_b", "vid_a"]);
  const [first, second] = server.sent("GET", LIST);
  assert.deepEqual(Object.fromEntries(first.query), { outcome: "failed", limit: "2" });
  assert.deepEqual(Object.fromEntries(second.query), { outcome: "failed", limit: "2", after: "cur1" });
});

test("redeliver retries a 503 with the same Idempotency-Key", async () => {
  server.on("POST", REDELIVER, problem(503, "service_unavailable"), { json: REDELIVERY });
  const client = new InfraiClient(fastOptions(server.baseUrl));
  const result = await client.webhooks.redeliver("vid_a", "msg_vid_a_succeeded");
  assert.equal(result.outcome, "delivered");
  assert.equal(result.attempt, 4);
  const sent = server.sent("POST", REDELIVER);
  assert.equal(sent.length, 2);
  assert.equal(new Set(sent.map((r) => r.headers["idempotency-key"])).size, 1);
});

test("a redelivery in progress rejects with ConflictError, with the given key sent", async () => {
  const path = "/v1/video/jobs/vid_b/webhook-deliveries/msg_vid_b_succeeded/redeliver";
  server.on("POST", path, problem(409, "redelivery_in_progress"));
  const client = new InfraiClient(fastOptions(server.baseUrl));
  const error = await client.webhooks
    .redeliver("vid_b", "msg_vid_b_succeeded", { idempotencyKey: "k1" })
    .then(
      () => assert.fail("expected a ConflictError"),
      (caught) => caught,
    );
  assert.ok(error instanceof ConflictError, String(error));
  assert.equal(error.code, "redelivery_in_progress");
  assert.equal(server.sent("POST", path)[0].headers["idempotency-key"], "k1");
});
