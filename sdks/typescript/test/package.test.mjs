// The published shape: ESM and CommonJS entry points with declarations, and the OpenAPI drift check.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

import * as esm from "@infrai/sdk";
import { fastOptions, jobJson, startScriptedServer } from "./scripted-server.mjs";

const run = promisify(execFile);
const root = new URL("..", import.meta.url).pathname;
const require = createRequire(import.meta.url);
const fixture = join(root, "test/fixtures/openapi.json");

test("require() gets the CommonJS build, with the same API", async () => {
  const cjs = require("@infrai/sdk");
  assert.equal(require.resolve("@infrai/sdk"), join(root, "dist/cjs/index.js"));
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  const server = await startScriptedServer();
  try {
    server.on("GET", "/v1/video/jobs/vid_123", { json: jobJson({ state: "running" }) });
    const job = await new cjs.InfraiClient(fastOptions(server.baseUrl)).video.status("vid_123");
    assert.equal(job.state, "running");
  } finally {
    await server.close();
  }
});

test("both builds ship declarations for every module they export", () => {
  for (const entry of ["dist/esm/index.d.ts", "dist/cjs/index.d.ts"]) {
    const declarations = readFileSync(join(root, entry), "utf8");
    assert.match(declarations, /InfraiClient/);
    assert.ok(existsSync(join(root, entry.replace("index.d.ts", "types.d.ts"))));
  }
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  assert.deepEqual(manifest.dependencies ?? {}, {});
});

test("check-openapi passes when the document has every declared field", async () => {
  const { stdout } = await run("node", [join(root, "scripts/check-openapi.mjs"), fixture]);
  assert.match(stdout, /^ok: /m);
});

test("check-openapi fails on a missing field, a new required field and a changed enum", async () => {
  const doc = JSON.parse(readFileSync(fixture, "utf8"));
  const schemas = doc.components.schemas;
  delete schemas.VideoJob.properties.thumbnail_url;
  schemas.GenerateRequest.required = ["prompt", "callback_url"];
  schemas.GenerateRequest.properties.callback_url = { type: "string" };
  schemas.JobState.enum.push("paused");
  delete schemas.ErrorInfo.properties.billed;
  schemas.Resolution.enum.push("8k");
  delete doc.paths["/v1/video/jobs/{job_id}/cancel"].post.responses["200"];
  delete schemas.CancelResult;
  const drifted = join(await mkdtemp(join(tmpdir(), "openapi-")), "openapi.json");
  writeFileSync(drifted, JSON.stringify(doc));
  const error = await run("node", [join(root, "scripts/check-openapi.mjs"), drifted]).then(
    () => assert.fail("expected exit 1"),
    (caught) => caught,
  );
  assert.equal(error.code, 1);
  assert.match(error.stderr, /VideoJob\.thumbnail_url is declared by the SDK but not in/);
  assert.match(error.stderr, /GenerateRequest\.callback_url is required by the server/);
  assert.match(error.stderr, /VideoJob\.state: the SDK has \[.*\], the server \[.*paused\]/);
  assert.match(
    error.stderr,
    /JobError\.billed is declared by the SDK but not in GET \/v1\/video\/jobs\/\{job_id\} 200, property error/,
  );
  assert.match(
    error.stderr,
    /GenerateRequest\.resolution: the SDK has \[720p, 1080p, 4k\], the server \[.*8k\]/,
  );
  assert.match(error.stderr, /CancelResult: no object schema at components\.schemas\.CancelResult/);
  assert.doesNotMatch(error.stderr, /Account/);
});
