// Against a real API with a low per-key limit (tests/test_sdk_typescript.py starts it and sets the env):
// once the key's quota is spent, the SDK's call meets a 429, sleeps what the server told it, and succeeds.

import assert from "node:assert/strict";
import { test } from "node:test";

import { InfraiClient } from "../../dist/esm/index.js";

const baseUrl = process.env.INFRAI_BASE_URL;
const apiKey = process.env.INFRAI_API_KEY;
const jobId = process.env.INFRAI_RATE_LIMIT_JOB_ID;
const quota = Number(process.env.INFRAI_RATE_LIMIT_REQUESTS);

test("the SDK waits out the server's reset after a 429, then succeeds", async () => {
  const answers = [];
  const sleeps = [];
  const client = new InfraiClient({
    apiKey,
    baseUrl,
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      answers.push({ status: response.status, headers: response.headers });
      return response;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
  });
  const headers = { Authorization: `Bearer ${apiKey}` };
  for (let call = 0; call < quota; call += 1) {
    const spent = await fetch(`${baseUrl}/v1/video/jobs/${jobId}`, { headers });
    assert.equal(spent.status, 200);
  }
  const job = await client.video.status(jobId);
  assert.equal(job.job_id, jobId);
  assert.deepEqual(
    answers.map((answer) => answer.status),
    [429, 200],
  );
  const told = Number(answers[0].headers.get("retry-after"));
  assert.match(answers[0].headers.get("ratelimit"), new RegExp(`^"default";r=0;t=${told}$`));
  assert.equal(sleeps.length, 1);
  assert.ok(sleeps[0] >= told * 1000, `slept ${sleeps[0]} ms, told ${told} s`);
  assert.deepEqual(client.rateLimits, [
    { policy: "default", remaining: quota - 1, reset: client.rateLimits[0].reset },
  ]);
});
