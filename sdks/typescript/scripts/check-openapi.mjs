#!/usr/bin/env node
// Check the SDK's declared types against the server's OpenAPI document, so they cannot drift.
//
//   npm run build && node scripts/check-openapi.mjs path/to/openapi.json
//
// Each type the SDK declares is found through the operation that sends or takes it (so schema names do not
// matter): VideoJob is what GET /v1/video/jobs/{id} answers, its JobCost / JobError / VideoFile are its
// `cost` / `error` / `video`, GenerateRequest is the body of POST /v1/video/generate, CancelResult the answer
// of POST .../cancel, Activation of POST /v1/accounts/activate, Account of GET /v1/account, Budget of GET
// /v1/account/keys/{key_id}/budget, BudgetCaps the body of PUT /v1/account/budgets, UsageReport (and its
// UsageLine items) of GET /v1/account/usage, the webhook message page (and its items) of GET
// /v1/account/webhook-deliveries, WebhookRedelivery the answer of POST .../redeliver. Checked: every
// field our types declare exists there; the fields the server requires in a request are required in ours
// too; and the enums (job state and stage, request aspect / resolution / prefer) are the same sets. Fields
// the server has and our types do not are listed, not failed: the SDK keeps them at runtime.
// Exit 0: consistent; 1: drift (each problem printed); 2: the document or the build could not be read.

import { readFileSync } from "node:fs";

const usage = "usage: node scripts/check-openapi.mjs OPENAPI_JSON";
const JOB_PATH = /^\/v1\/video\/jobs\/\{[^}/]+\}$/;
const CANCEL_PATH = /^\/v1\/video\/jobs\/\{[^}/]+\}\/cancel$/;
const KEY_BUDGET_PATH = /^\/v1\/account\/keys\/\{[^}/]+\}\/budget$/;
const REDELIVER_PATH = /^\/v1\/video\/jobs\/\{[^}/]+\}\/webhook-deliveries\/\{[^}/]+\}\/redeliver$/;

function fail(message, code = 2) {
  console.error(message);
  process.exit(code);
}

async function loadContract() {
  try {
    return await import(new URL("../dist/esm/contract.js", import.meta.url).href);
  } catch (error) {
    fail(`cannot load dist/esm/contract.js (${error.message}); run \`npm run build\` first`);
  }
}

function resolve(doc, schema) {
  let current = schema;
  for (let depth = 0; current && current.$ref && depth < 32; depth += 1) {
    const parts = current.$ref.replace(/^#\//, "").split("/");
    current = parts.reduce(
      (node, part) => (node === undefined ? undefined : node[part.replace(/~1/g, "/").replace(/~0/g, "~")]),
      doc,
    );
  }
  return current;
}

/** The object schema behind a property, looking through $ref and the anyOf/oneOf/allOf of a nullable. */
function objectSchema(doc, schema) {
  const node = resolve(doc, schema);
  if (!node || node.properties) return node;
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    for (const branch of node[key] ?? []) {
      const found = objectSchema(doc, branch);
      if (found?.properties) return found;
    }
  }
  return undefined;
}

/** The enum values a property allows, looking through $ref, anyOf/oneOf/allOf and null branches. */
function enumValues(doc, schema) {
  const node = resolve(doc, schema);
  if (!node) return undefined;
  if (Array.isArray(node.enum)) return node.enum.filter((value) => value !== null);
  if (node.const !== undefined) return [node.const];
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    if (!Array.isArray(node[key])) continue;
    const values = node[key].flatMap((branch) => enumValues(doc, branch) ?? []);
    if (values.length > 0) return values;
  }
  return undefined;
}

function jsonSchemaOf(content) {
  return content?.["application/json"]?.schema;
}

/** The JSON body schema `method` on the first path matching `path` answers with `status`. */
function response(doc, method, path, status, fallback) {
  const match = Object.keys(doc.paths ?? {}).find((p) =>
    typeof path === "string" ? p === path : path.test(p),
  );
  const fromPath = match && jsonSchemaOf(doc.paths[match]?.[method]?.responses?.[status]?.content);
  return {
    where: fromPath ? `${method.toUpperCase()} ${match} ${status}` : `components.schemas.${fallback}`,
    schema: objectSchema(doc, fromPath ?? { $ref: `#/components/schemas/${fallback}` }),
  };
}

function requestBody(doc, method, path, fallback) {
  const fromPath = jsonSchemaOf(doc.paths?.[path]?.[method]?.requestBody?.content);
  return {
    where: fromPath ? `${method.toUpperCase()} ${path} request body` : `components.schemas.${fallback}`,
    schema: objectSchema(doc, fromPath ?? { $ref: `#/components/schemas/${fallback}` }),
  };
}

function property(doc, parent, field) {
  const schema = parent.schema?.properties?.[field];
  return { where: `${parent.where}, property ${field}`, schema: schema && objectSchema(doc, schema) };
}

/** The object schema of the items of an array property (`data` of a page). */
function items(doc, parent, field) {
  const schema = resolve(doc, parent.schema?.properties?.[field]);
  return {
    where: `${parent.where}, items of ${field}`,
    schema: schema?.items && objectSchema(doc, schema.items),
  };
}

function sameSet(ours, theirs) {
  const a = new Set(ours);
  const b = new Set(theirs);
  return a.size === b.size && [...a].every((value) => b.has(value));
}

function batchObjects(doc, contract) {
  const batch = response(doc, "get", /^\/v1\/video\/batches\/\{[^}]+\}$/, "200", "VideoBatch");
  return [
    ["VideoBatch", batch, contract.VIDEO_BATCH_FIELDS],
    ["BatchCounts", property(doc, batch, "counts"), contract.BATCH_COUNTS_FIELDS],
  ];
}

function check(doc, contract) {
  const problems = [];
  const notes = [];
  const videoJob = response(doc, "get", JOB_PATH, "200", "VideoJob");
  const generate = requestBody(doc, "post", "/v1/video/generate", "GenerateRequest");
  const cancel = response(doc, "post", CANCEL_PATH, "200", "CancelResult");
  const usage = response(doc, "get", "/v1/account/usage", "200", "UsageReport");
  const messages = response(doc, "get", "/v1/account/webhook-deliveries", "200", "WebhookMessageList");
  const message = items(doc, messages, "data");
  const objects = [
    ["VideoJob", videoJob, contract.VIDEO_JOB_FIELDS],
    ["JobCost", property(doc, videoJob, "cost"), contract.JOB_COST_FIELDS],
    ["JobError", property(doc, videoJob, "error"), contract.JOB_ERROR_FIELDS],
    ["VideoFile", property(doc, videoJob, "video"), contract.VIDEO_FILE_FIELDS],
    ["GenerateRequest", generate, contract.GENERATE_REQUEST_FIELDS],
    ["CancelResult", cancel, contract.CANCEL_RESULT_FIELDS],
    [
      "Activation",
      response(doc, "post", "/v1/accounts/activate", "201", "ActivationResponse"),
      contract.ACTIVATION_FIELDS,
    ],
    ["Account", response(doc, "get", "/v1/account", "200", "AccountResponse"), contract.ACCOUNT_FIELDS],
    ["Budget", response(doc, "get", KEY_BUDGET_PATH, "200", "Budget"), contract.BUDGET_FIELDS],
    ["BudgetCaps", requestBody(doc, "put", "/v1/account/budgets", "BudgetCaps"), contract.BUDGET_CAPS_FIELDS],
    ["UsageReport", usage, contract.USAGE_REPORT_FIELDS],
    ["UsageLine", items(doc, usage, "data"), contract.USAGE_LINE_FIELDS],
    ...batchObjects(doc, contract),
    ["WebhookMessagePage", messages, contract.WEBHOOK_MESSAGE_PAGE_FIELDS],
    ["WebhookMessageStatus", message, contract.WEBHOOK_MESSAGE_FIELDS],
    [
      "WebhookRedelivery",
      response(doc, "post", REDELIVER_PATH, "200", "WebhookRedelivery"),
      contract.WEBHOOK_REDELIVERY_FIELDS,
    ],
  ];
  for (const [name, found, declared] of objects) {
    const properties = found.schema?.properties;
    if (!properties) {
      problems.push(`${name}: no object schema at ${found.where}`);
      continue;
    }
    for (const field of declared) {
      if (!(field in properties))
        problems.push(`${name}.${field} is declared by the SDK but not in ${found.where}`);
    }
    const extra = Object.keys(properties).filter((field) => !declared.includes(field));
    if (extra.length > 0)
      notes.push(`${name}: the server also has ${extra.join(", ")} (kept at runtime, not typed)`);
  }
  for (const field of generate.schema?.required ?? []) {
    if (field !== "prompt")
      problems.push(`GenerateRequest.${field} is required by the server but optional in the SDK`);
  }
  const enums = [
    ["VideoJob", videoJob, "state", contract.JOB_STATES],
    ["VideoJob", videoJob, "stage", contract.STAGES],
    ["CancelResult", cancel, "state", contract.JOB_STATES],
    ["GenerateRequest", generate, "aspect", contract.ASPECTS],
    ["GenerateRequest", generate, "resolution", contract.RESOLUTIONS],
    ["GenerateRequest", generate, "prefer", contract.PREFERS],
    ["UsageReport", usage, "group_by", contract.USAGE_GROUP_BYS],
    ["WebhookMessageStatus", message, "outcome", contract.MESSAGE_OUTCOMES],
  ];
  for (const [name, found, field, ours] of enums) {
    const schema = found.schema?.properties?.[field];
    const theirs = schema && enumValues(doc, schema);
    if (theirs && !sameSet(ours, theirs)) {
      problems.push(`${name}.${field}: the SDK has [${ours.join(", ")}], the server [${theirs.join(", ")}]`);
    }
  }
  return { problems, notes };
}

const file = process.argv[2];
if (!file) fail(usage);
let doc;
try {
  doc = JSON.parse(readFileSync(file, "utf8"));
} catch (error) {
  fail(`cannot read ${file}: ${error.message}`);
}
const contract = await loadContract();
const { problems, notes } = check(doc, contract);
for (const note of notes) console.log(`note: ${note}`);
if (problems.length > 0) {
  for (const problem of problems) console.error(`drift: ${problem}`);
  fail(`${problems.length} difference(s) between the SDK's types and ${file}`, 1);
}
console.log(`ok: the SDK's types match ${file}`);
