#!/usr/bin/env node
// Check the SDK's declared types against the server's OpenAPI document, so they cannot drift.
//
//   npm run build && node scripts/check-openapi.mjs path/to/openapi.json
//
// The VideoJob schema is the one GET /v1/video/jobs/{id} answers with and the GenerateRequest schema the
// one POST /v1/video/generate takes (found through the paths, so schema names do not matter; the names
// VideoJob / GenerateRequest are the fallback). Checked: every field our types declare exists there; the
// fields the server requires in a request are required in ours too; and the `state` / `stage` enums are
// the same sets. Fields the server has and our types do not are listed, not failed: the SDK keeps them.
// Exit 0: consistent; 1: drift (each problem printed); 2: the document or the build could not be read.

import { readFileSync } from "node:fs";

const usage = "usage: node scripts/check-openapi.mjs OPENAPI_JSON";

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

function findVideoJob(doc) {
  const path = Object.keys(doc.paths ?? {}).find((p) => /^\/v1\/video\/jobs\/\{[^}/]+\}$/.test(p));
  const fromPath = path && jsonSchemaOf(doc.paths[path]?.get?.responses?.["200"]?.content);
  return {
    where: fromPath ? `GET ${path} 200` : "components.schemas.VideoJob",
    schema: resolve(doc, fromPath ?? { $ref: "#/components/schemas/VideoJob" }),
  };
}

function findGenerateRequest(doc) {
  const fromPath = jsonSchemaOf(doc.paths?.["/v1/video/generate"]?.post?.requestBody?.content);
  return {
    where: fromPath ? "POST /v1/video/generate request body" : "components.schemas.GenerateRequest",
    schema: resolve(doc, fromPath ?? { $ref: "#/components/schemas/GenerateRequest" }),
  };
}

function sameSet(ours, theirs) {
  const a = new Set(ours);
  const b = new Set(theirs);
  return a.size === b.size && [...a].every((value) => b.has(value));
}

function check(doc, contract) {
  const problems = [];
  const notes = [];
  const videoJob = findVideoJob(doc);
  const generate = findGenerateRequest(doc);
  for (const { name, found, declared } of [
    { name: "VideoJob", found: videoJob, declared: contract.VIDEO_JOB_FIELDS },
    { name: "GenerateRequest", found: generate, declared: contract.GENERATE_REQUEST_FIELDS },
  ]) {
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
  const requiredByServer = generate.schema?.required ?? [];
  for (const field of requiredByServer) {
    if (field !== "prompt")
      problems.push(`GenerateRequest.${field} is required by the server but optional in the SDK`);
  }
  const properties = videoJob.schema?.properties ?? {};
  for (const [field, ours] of [
    ["state", contract.JOB_STATES],
    ["stage", contract.STAGES],
  ]) {
    const theirs = properties[field] && enumValues(doc, properties[field]);
    if (theirs && !sameSet(ours, theirs)) {
      problems.push(`VideoJob.${field}: the SDK has [${ours.join(", ")}], the server [${theirs.join(", ")}]`);
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
console.log(`ok: the SDK's VideoJob and GenerateRequest types match ${file}`);
