// Against a real API with a low per-key limit (tests/test_sdk_typescript.py starts it and sets the env):
// once the key's quota is spent, the SDK's call meets a 429, sleeps what the server told it, and succeeds.
// The quota is spent until the server says 429 (not a fixed number of calls): on a loaded machine node's
// start can outlast the window, and a fresh window would answer 200. The count is printed for the caller.
// The calls read the account: a job's status would wait for a worker this API has none of.

import assert from "node:assert/strict";
import { test } from "node:test";

import { InfraiClient } from "../../dist/esm/index.js";

const baseUrl = process.env.INFRAI_BASE_URL;
const apiKey = process.env.INFRAI_API_KEY;
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
  let spent = 0;
  for (;;) {
    const raw = await fetch(`${baseUrl}/v1/account`, { headers });
    if (raw.status === 429) break;
    assert.equal(raw.status, 200);
    spent += 1;
    assert.ok(spent <= 3 * quota, `no 429 after ${spent} calls with a quota of ${quota}`);
  }
  console.log(`# raw calls answered 200: ${spent}`);
  const account = await client.accounts.retrieve();
  assert.match(account.project_id, /^proj_/);
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
