// Problem JSON answers become one exception tree that keeps the server's code, detail and request id.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  APIError,
  AuthenticationError,
  ConflictError,
  InfraiClient,
  InfraiError,
  InsufficientCreditsError,
  InternalServerError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
} from "../dist/esm/index.js";
import { fastOptions, problem, startScriptedServer } from "./scripted-server.mjs";

let server;
before(async () => {
  server = await startScriptedServer();
});
after(() => server.close());

const cases = [
  [400, "malformed_json", InvalidRequestError],
  [400, "unsafe_url", InvalidRequestError],
  [401, "unauthorized", AuthenticationError],
  [402, "insufficient_credits", InsufficientCreditsError],
  [403, "forbidden", PermissionDeniedError],
  [404, "not_found", NotFoundError],
  [409, "idempotency_conflict", ConflictError],
  [422, "invalid_input", InvalidRequestError],
  [422, "unsupported_resolution", InvalidRequestError],
  [422, "no_route", InvalidRequestError],
  [429, "rate_limit_exceeded", RateLimitError],
  [503, "service_unavailable", ServiceUnavailableError],
];

for (const [status, code, ErrorClass] of cases) {
  test(`${status} ${code} becomes ${ErrorClass.name}`, async () => {
    const path = `/v1/video/jobs/${code}`;
    // A Retry-After larger than the SDK sleeps, so retryable statuses surface at once.
    server.on(
      "GET",
      path,
      problem(status, code, "the detail", { "Retry-After": "120", "X-Request-Id": `req_${code}` }),
    );
    const client = new InfraiClient(fastOptions(server.baseUrl));
    const error = await client.video.status(code).then(
      () => assert.fail("expected an error"),
      (caught) => caught,
    );
    assert.equal(error.constructor, ErrorClass);
    assert.equal(error.name, ErrorClass.name);
    assert.ok(error instanceof APIError && error instanceof InfraiError && error instanceof Error);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.equal(error.detail, "the detail");
    assert.equal(error.requestId, `req_${code}`);
    assert.equal(error.retryAfter, 120);
    assert.equal(error.problem.type, `https://infrai.dev/problems/${code}`);
  });
}

test("the problem code decides over the status", async () => {
  server.on("POST", "/v1/video/generate", problem(400, "insufficient_credits"));
  const client = new InfraiClient(fastOptions(server.baseUrl));
  await assert.rejects(client.video.generate({ prompt: "x" }), InsufficientCreditsError);
});

test("a non-JSON error page still maps by status", async () => {
  server.on("GET", "/v1/video/jobs/html", { status: 502, body: "<html>Bad Gateway</html>" });
  const client = new InfraiClient(fastOptions(server.baseUrl, { maxRetries: 0 }));
  await assert.rejects(
    client.video.status("html"),
    (error) =>
      error instanceof InternalServerError &&
      error.code === undefined &&
      error.detail.includes("Bad Gateway"),
  );
});

test("job ids are escaped into the path", async () => {
  const client = new InfraiClient(fastOptions(server.baseUrl));
  await assert.rejects(client.video.status("../admin"), NotFoundError);
  assert.equal(server.requests.at(-1).rawPath, "/v1/video/jobs/..%2Fadmin");
});
