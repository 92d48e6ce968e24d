// Which failures the SDK retries, how often, and that a retried generate can never start a second job.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";

import {
  APIConnectionError,
  APITimeoutError,
  DEFAULT_RETRY_POLICY,
  InfraiClient,
  InternalServerError,
  InvalidRequestError,
  MissingAPIKeyError,
  NotFoundError,
  RateLimitError,
  retryDelayMs,
} from "../dist/esm/index.js";
import { fastOptions, jobJson, problem, startScriptedServer } from "./scripted-server.mjs";

delete process.env.INFRAI_API_KEY;
delete process.env.INFRAI_BASE_URL;

const JOB = "/v1/video/jobs/vid_123";
const GENERATE = "/v1/video/generate";
const ACTIVATE = "/v1/accounts/activate";
const ACTIVATION = {
  project_id: "proj_1",
  key_id: "key_1",
  api_key: "ifr_pk_proj_new",
  balance_usd: "5.00",
  trial_credits_usd: "5.00",
};

let server;
let client;
before(async () => {
  server = await startScriptedServer();
});
after(() => server.close());

describe("retries", () => {
  beforeEach(async () => {
    await server.close();
    server = await startScriptedServer();
    client = new InfraiClient(fastOptions(server.baseUrl));
  });

  test("a 429 with Retry-After is retried until it succeeds", async () => {
    server.on("GET", JOB, problem(429, "rate_limit_exceeded", "slow down", { "Retry-After": "0" }), {
      json: jobJson({ state: "running" }),
    });
    const job = await client.video.status("vid_123");
    assert.equal(job.state, "running");
    assert.equal(server.sent("GET", JOB).length, 2);
  });

  for (const status of [500, 502, 503, 504]) {
    test(`a ${status} on a GET is retried`, async () => {
      server.on("GET", JOB, { status, body: "upstream trouble" }, { json: jobJson() });
      assert.equal((await client.video.status("vid_123")).job_id, "vid_123");
      assert.equal(server.requests.length, 2);
    });
  }

  test("retries stop after maxRetries", async () => {
    server.on("GET", JOB, problem(500, "internal"));
    await assert.rejects(client.video.status("vid_123"), InternalServerError);
    assert.equal(server.requests.length, 3);
  });

  test("4xx is not retried", async () => {
    server.on("GET", JOB, problem(404, "not_found"), { json: jobJson() });
    await assert.rejects(client.video.status("vid_123"), NotFoundError);
    server.on("POST", GENERATE, problem(422, "invalid_input"), { status: 202, json: jobJson() });
    await assert.rejects(client.video.generate({ prompt: "x" }), InvalidRequestError);
    assert.equal(server.requests.length, 2);
  });

  test("a Retry-After beyond the limit is thrown at once", async () => {
    server.on("GET", JOB, problem(429, "rate_limit_exceeded", "quota", { "Retry-After": "3600" }));
    await assert.rejects(
      client.video.status("vid_123"),
      (error) => error instanceof RateLimitError && error.retryAfter === 3600,
    );
    assert.equal(server.requests.length, 1);
  });

  test("generate sends one generated Idempotency-Key on every retry", async () => {
    server.on(
      "POST",
      GENERATE,
      problem(503, "service_unavailable"),
      { status: 502, body: "bad gateway" },
      { status: 202, json: jobJson(), headers: { Location: JOB } },
    );
    const job = await client.video.generate({
      prompt: "a timelapse of a city skyline at dusk",
      resolution: "1080p",
    });
    assert.equal(job.job_id, "vid_123");
    const attempts = server.sent("POST", GENERATE);
    assert.equal(attempts.length, 3);
    const keys = new Set(attempts.map((a) => a.headers["idempotency-key"]));
    const bodyKeys = new Set(attempts.map((a) => JSON.parse(a.body).idempotency_key));
    assert.equal(keys.size, 1);
    assert.deepEqual(keys, bodyKeys);
    assert.match([...keys][0], /^infrai-ts-[0-9a-f-]{36}$/);
    const body = JSON.parse(attempts[0].body);
    assert.deepEqual(body, {
      prompt: "a timelapse of a city skyline at dusk",
      resolution: "1080p",
      prefer: "balanced",
      idempotency_key: body.idempotency_key,
    });
  });

  test("each generate call gets its own key, and a caller's key is used verbatim", async () => {
    server.on("POST", GENERATE, { status: 202, json: jobJson() });
    await client.video.generate({ prompt: "one" });
    await client.video.generate({ prompt: "two" });
    await client.video.generate({ prompt: "three", idempotency_key: "order-42" });
    const keys = server.sent("POST", GENERATE).map((a) => a.headers["idempotency-key"]);
    assert.notEqual(keys[0], keys[1]);
    assert.equal(keys[2], "order-42");
  });

  test("deadlineSeconds is sent as deadline_seconds, and only when given", async () => {
    server.on("POST", GENERATE, { status: 202, json: jobJson({ deadline_at: "2025-01-02T03:09:05Z" }) });
    const job = await client.video.generate({ prompt: "one", deadlineSeconds: 300 });
    assert.equal(job.deadline_at, "2025-01-02T03:09:05Z");
    await client.video.generate({ prompt: "two" });
    const [withDeadline, without] = server.sent("POST", GENERATE).map((a) => JSON.parse(a.body));
    assert.equal(withDeadline.deadline_seconds, 300);
    assert.equal("deadlineSeconds" in withDeadline, false);
    assert.equal("deadline_seconds" in without, false);
    await assert.rejects(
      client.video.generate({ prompt: "x", deadlineSeconds: 60, deadline_seconds: 90 }),
      TypeError,
    );
  });

  test("cancel is retried on 5xx", async () => {
    server.on("POST", `${JOB}/cancel`, problem(503, "service_unavailable"), {
      json: { ok: true, job_id: "vid_123", state: "running" },
    });
    assert.equal((await client.video.cancel("vid_123")).ok, true);
    assert.equal(server.requests.length, 2);
  });

  test("activate is retried on 429 but not on 5xx", async () => {
    const keyless = new InfraiClient(fastOptions(server.baseUrl, { apiKey: undefined }));
    server.on("POST", ACTIVATE, problem(429, "rate_limit_exceeded"), problem(500, "internal"), {
      status: 201,
      json: ACTIVATION,
    });
    await assert.rejects(keyless.accounts.activate(), InternalServerError);
    assert.equal(server.sent("POST", ACTIVATE).length, 2);
    assert.equal(server.sent("POST", ACTIVATE)[0].headers.authorization, undefined);
  });

  test("after activate the client uses the new key", async () => {
    const keyless = new InfraiClient(fastOptions(server.baseUrl, { apiKey: undefined }));
    server.on("POST", ACTIVATE, { status: 201, json: ACTIVATION });
    server.on("GET", JOB, { json: jobJson() });
    await assert.rejects(keyless.video.status("vid_123"), MissingAPIKeyError);
    assert.equal(server.requests.length, 0);
    assert.equal((await keyless.accounts.activate()).api_key, "ifr_pk_proj_new");
    await keyless.video.status("vid_123");
    assert.equal(server.sent("GET", JOB)[0].headers.authorization, "Bearer ifr_pk_proj_new");
  });

  test("the key comes from the option, else INFRAI_API_KEY", async () => {
    server.on("GET", JOB, { json: jobJson() });
    process.env.INFRAI_API_KEY = "key_from_env";
    try {
      await new InfraiClient(fastOptions(server.baseUrl, { apiKey: undefined })).video.status("vid_123");
      await new InfraiClient(fastOptions(server.baseUrl, { apiKey: "key_from_option" })).video.status(
        "vid_123",
      );
    } finally {
      delete process.env.INFRAI_API_KEY;
    }
    assert.deepEqual(
      server.requests.map((r) => r.headers.authorization),
      ["Bearer key_from_env", "Bearer key_from_option"],
    );
  });
});

describe("connection errors", () => {
  async function closedPort() {
    const probe = createServer();
    await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }

  test("a refused connection is retried, then reported as APIConnectionError", async () => {
    const port = await closedPort();
    let attempts = 0;
    const counting = (url, init) => {
      attempts += 1;
      return fetch(url, init);
    };
    const offline = new InfraiClient(fastOptions(`http://127.0.0.1:${port}`, { fetch: counting }));
    await assert.rejects(
      offline.video.status("vid_123"),
      (error) => error instanceof APIConnectionError && error.cause !== undefined,
    );
    assert.equal(attempts, 3);
  });

  test("activate is retried when the connection was never made", async () => {
    const port = await closedPort();
    const server2 = await startScriptedServer();
    try {
      server2.on("POST", ACTIVATE, { status: 201, json: ACTIVATION });
      let first = true;
      // The first attempt really goes to a closed port (ECONNREFUSED); the retry to the live server.
      const flaky = (url, init) => {
        const target = first ? url.replace(server2.baseUrl, `http://127.0.0.1:${port}`) : url;
        first = false;
        return fetch(target, init);
      };
      const keyless = new InfraiClient(fastOptions(server2.baseUrl, { apiKey: undefined, fetch: flaky }));
      assert.equal((await keyless.accounts.activate()).project_id, "proj_1");
      assert.equal(server2.sent("POST", ACTIVATE).length, 1);
    } finally {
      await server2.close();
    }
  });
});

describe("timeouts", () => {
  test("a server slower than timeoutMs gives APITimeoutError, after the retries", async () => {
    const slow = await startScriptedServer();
    try {
      slow.on("GET", JOB, { json: jobJson(), delayMs: 400 });
      const impatient = new InfraiClient(fastOptions(slow.baseUrl, { timeoutMs: 50 }));
      await assert.rejects(impatient.video.status("vid_123"), APITimeoutError);
      assert.equal(slow.requests.length, 3);
    } finally {
      await slow.close();
    }
  });
});

describe("backoff", () => {
  test("Retry-After is slept as given", () => {
    assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 0, 7000), 7000);
    assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 0, 120_000), undefined);
    assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 2, 1000), undefined);
  });

  test("delays grow exponentially with jitter up to the cap", () => {
    const policy = { maxRetries: 5, initialDelayMs: 1000, maxDelayMs: 4000, maxRetryAfterMs: 60_000 };
    [1000, 2000, 4000, 4000, 4000].forEach((ceiling, retries) => {
      const delay = retryDelayMs(policy, retries);
      assert.ok(
        delay >= ceiling / 2 && delay <= ceiling,
        `retry ${retries}: ${delay}ms not in [${ceiling / 2}, ${ceiling}]`,
      );
    });
    assert.equal(retryDelayMs(policy, 5), undefined);
  });
});
