// Budgets and usage through the SDK against running servers (tests/test_sdk_typescript.py sets these):
//   INFRAI_BASE_URL          the session server (local vendor, free jobs)
//   INFRAI_PRICED_BASE_URL   a server whose only vendor is priced

import assert from "node:assert/strict";
import { test } from "node:test";

import { BudgetExceededError, ConcurrencyLimitError, InfraiClient } from "../../dist/esm/index.js";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these through tests/test_sdk_typescript.py`);
  return value;
}

const TEST = { timeout: 120_000 };

async function newProject(baseUrl) {
  const activation = await new InfraiClient({ baseUrl }).accounts.activate();
  return new InfraiClient({ baseUrl, apiKey: activation.api_key, maxRetries: 0 });
}

async function rejection(promise) {
  return promise.then(
    (value) => assert.fail(`expected an error, got ${JSON.stringify(value)}`),
    (error) => error,
  );
}

test("a key's concurrency cap of 0 refuses a generate with ConcurrencyLimitError", TEST, async () => {
  const client = await newProject(required("INFRAI_BASE_URL"));
  const keyId = (await client.accounts.retrieve()).keys[0].key_id;

  const budget = await client.accounts.setBudget({ max_concurrent_jobs: 0 }, { keyId });
  const error = await rejection(client.video.generate({ prompt: "a paper boat", duration_seconds: 1 }));

  assert.deepEqual([budget.scope, budget.key_id, budget.max_concurrent_jobs], ["key", keyId, 0]);
  assert.ok(error instanceof ConcurrencyLimitError, String(error));
  assert.deepEqual(
    [error.status, error.code, error.problem.scope],
    [429, "concurrency_limit_exceeded", "key"],
  );
  const budgets = await client.accounts.budgets();
  assert.equal(budgets.keys[0].max_concurrent_jobs, 0);
  assert.equal(budgets.project.max_concurrent_jobs, null);
});

test("a project's daily cap refuses a priced job with BudgetExceededError", TEST, async () => {
  const client = await newProject(required("INFRAI_PRICED_BASE_URL"));

  await client.accounts.setBudget({ daily_usd: "0.05" });
  const error = await rejection(client.video.generate({ prompt: "a lighthouse", duration_seconds: 5 }));

  assert.ok(error instanceof BudgetExceededError, String(error));
  assert.deepEqual(
    [error.status, error.code, error.problem.period, error.problem.cap_usd, error.problem.remaining_usd],
    [402, "budget_exceeded", "day", "0.05", "0.05"],
  );
});

test("usage comes as JSON and as CSV", TEST, async () => {
  const client = await newProject(required("INFRAI_BASE_URL"));

  const report = await client.accounts.usage({ groupBy: "vendor" });
  const csv = await client.accounts.usageCsv({ groupBy: "model" });

  assert.deepEqual([report.group_by, report.data, report.total.charged_usd], ["vendor", [], "0.00"]);
  assert.equal(csv.split("\r\n")[0], "vendor,model,jobs,charged_usd,charged_micros");
});
