// The RateLimit field (draft-ietf-httpapi-ratelimit-headers): read leniently, and obeyed on a 429.

import assert from "node:assert/strict";
import { after, beforeEach, describe, test } from "node:test";

import { InfraiClient, RateLimitError, exhaustedReset, parseRateLimit } from "../dist/esm/index.js";
import { fastOptions, jobJson, problem, startScriptedServer } from "./scripted-server.mjs";

delete process.env.INFRAI_API_KEY;
delete process.env.INFRAI_BASE_URL;

const JOB = "/v1/video/jobs/vid_123";

describe("parseRateLimit", () => {
  test("reads each policy's remaining quota and reset, quoted or token names", () => {
    assert.deepEqual(parseRateLimit('"default";r=2999;t=42, jobs;r=0;t=7;pk=:cHsd:'), [
      { policy: "default", remaining: 2999, reset: 42 },
      { policy: "jobs", remaining: 0, reset: 7 },
    ]);
    assert.deepEqual(parseRateLimit('"a,b";r=1'), [{ policy: "a,b", remaining: 1, reset: undefined }]);
  });

  test("ignores malformed items and fields", () => {
    assert.deepEqual(parseRateLimit('"x";t=3, "y";r=-1, "z";r=abc, 5;r=1, "ok";r=2;t=1'), [
      { policy: "ok", remaining: 2, reset: 1 },
    ]);
    assert.deepEqual(parseRateLimit(null), []);
    assert.deepEqual(parseRateLimit("limit=100, remaining=0"), []);
  });

  test("the wait is the longest reset among exhausted policies", () => {
    const limits = parseRateLimit('"default";r=0;t=5, "jobs";r=0;t=9, "other";r=3;t=60');
    assert.equal(exhaustedReset(limits), 9);
    assert.equal(exhaustedReset(parseRateLimit('"default";r=1;t=5')), undefined);
  });
});

describe("a 429 without Retry-After", () => {
  let server;
  beforeEach(async () => {
    await server?.close();
    server = await startScriptedServer();
  });
  after(() => server.close());

  test("waits the exhausted policy's reset from RateLimit, not a backoff", async () => {
    const sleeps = [];
    const client = new InfraiClient(
      fastOptions(server.baseUrl, { sleep: async (ms) => void sleeps.push(ms) }),
    );
    server.on(
      "GET",
      JOB,
      { ...problem(429, "rate_limit_exceeded"), headers: { RateLimit: '"default";r=0;t=3' } },
      { json: jobJson(), headers: { RateLimit: '"default";r=9;t=60' } },
    );
    assert.equal((await client.video.status("vid_123")).job_id, "vid_123");
    assert.deepEqual(sleeps, [3000]);
    assert.deepEqual(client.rateLimits, [{ policy: "default", remaining: 9, reset: 60 }]);
  });

  test("Retry-After takes precedence over RateLimit", async () => {
    const sleeps = [];
    const client = new InfraiClient(
      fastOptions(server.baseUrl, { sleep: async (ms) => void sleeps.push(ms) }),
    );
    server.on(
      "GET",
      JOB,
      problem(429, "rate_limit_exceeded", "slow down", {
        "Retry-After": "2",
        RateLimit: '"default";r=0;t=30',
      }),
      { json: jobJson() },
    );
    await client.video.status("vid_123");
    assert.deepEqual(sleeps, [2000]);
  });

  test("the error carries the field once the retries are spent", async () => {
    const client = new InfraiClient(fastOptions(server.baseUrl, { maxRetries: 0 }));
    server.on("GET", JOB, problem(429, "rate_limit_exceeded", "quota", { RateLimit: '"jobs";r=0;t=4' }));
    await assert.rejects(
      client.video.status("vid_123"),
      (error) =>
        error instanceof RateLimitError &&
        error.rateLimits[0]?.policy === "jobs" &&
        error.rateLimits[0].reset === 4,
    );
  });
});
