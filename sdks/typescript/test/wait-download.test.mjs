// wait() polls to a final state; download() streams the MP4 to disk atomically and checks it.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";

import {
  DownloadIntegrityError,
  InfraiClient,
  InfraiError,
  JobStateError,
  TimeoutError,
} from "../dist/esm/index.js";
import { fastOptions, jobJson, startScriptedServer } from "./scripted-server.mjs";

const JOB = "/v1/video/jobs/vid_123";
const MEDIA = "/v1/media/vid_123.mp4";
const MP4 = Buffer.concat([Buffer.from("\x00\x00\x00\x18ftypmp42", "latin1"), randomBytes(200_000)]);

let server;
let client;
let folder;
beforeEach(async () => {
  server = await startScriptedServer();
  client = new InfraiClient(fastOptions(server.baseUrl));
  folder = await mkdtemp(join(tmpdir(), "infrai-sdk-"));
});
afterEach(() => server.close());

function succeeded(mediaUrl = `${server.baseUrl}${MEDIA}?sig=abc`, body = MP4) {
  const video = {
    size_bytes: body.length,
    sha256: createHash("sha256").update(body).digest("hex"),
    width: 1280,
  };
  return { json: jobJson({ state: "succeeded", progress: 100, video_url: mediaUrl, video }) };
}

const running = (progress) => ({ json: jobJson({ state: "running", stage: "generating", progress }) });

test("wait polls until the job succeeds", async () => {
  server.on("GET", JOB, running(0), running(30), running(90), succeeded());
  const seen = [];
  const job = await client.video.wait("vid_123", { onPoll: (j) => seen.push(j.progress) });
  assert.equal(job.state, "succeeded");
  assert.deepEqual(seen, [0, 30, 90, 100]);
});

for (const state of ["failed", "cancelled"]) {
  test(`wait resolves with a ${state} job`, async () => {
    const error = { code: "content_policy", message: "refused", retryable: false, billed: false };
    server.on("GET", JOB, running(10), { json: jobJson({ state, error }) });
    const job = await client.video.wait("vid_123");
    assert.equal(job.state, state);
    assert.equal(job.error.code, "content_policy");
  });
}

test("wait gives up with a TimeoutError carrying the last job", async () => {
  server.on("GET", JOB, running(42));
  await assert.rejects(
    client.video.wait("vid_123", { timeoutMs: 30 }),
    (error) => error instanceof TimeoutError && error instanceof InfraiError && error.job.progress === 42,
  );
});

test("generate with wait resolves with the final job, keeping unknown fields", async () => {
  server.on("POST", "/v1/video/generate", { status: 202, json: jobJson() });
  server.on("GET", JOB, running(50), { json: { ...succeeded().json, region: "eu" } });
  const job = await client.video.generate({ prompt: "skyline", wait: true });
  assert.equal(job.state, "succeeded");
  assert.equal(job.region, "eu");
});

test("download writes the MP4 and leaves nothing else", async () => {
  server.on("GET", JOB, succeeded());
  server.on("GET", MEDIA, { body: MP4, headers: { "Content-Type": "video/mp4" } });
  const saved = await client.video.download("vid_123", join(folder, "clip.mp4"));
  assert.equal(saved, join(folder, "clip.mp4"));
  assert.ok((await readFile(saved)).equals(MP4));
  assert.deepEqual(await readdir(folder), ["clip.mp4"]);
  const media = server.sent("GET", MEDIA)[0];
  assert.equal(media.query.get("sig"), "abc");
  assert.match(media.headers.authorization, /^Bearer /); // the API's own origin
});

test("download into a folder names the file after the job", async () => {
  server.on("GET", JOB, succeeded());
  server.on("GET", MEDIA, { body: MP4 });
  assert.equal(await client.video.download("vid_123", folder), join(folder, "vid_123.mp4"));
});

test("a corrupt download leaves the old file untouched", async () => {
  const target = join(folder, "clip.mp4");
  await writeFile(target, "the previous clip");
  server.on("GET", JOB, succeeded());
  const corrupt = Buffer.from(MP4);
  corrupt[corrupt.length - 1] ^= 0xff;
  server.on("GET", MEDIA, { body: corrupt });
  await assert.rejects(client.video.download("vid_123", target), DownloadIntegrityError);
  assert.equal(await readFile(target, "utf8"), "the previous clip");
  assert.deepEqual(await readdir(folder), ["clip.mp4"]);
});

test("a dropped connection is retried from the start", async () => {
  server.on("GET", JOB, succeeded());
  server.on("GET", MEDIA, { body: MP4, dropAfter: 1000 }, { body: MP4 });
  const saved = await client.video.download("vid_123", join(folder, "clip.mp4"));
  assert.ok((await readFile(saved)).equals(MP4));
  assert.equal(server.sent("GET", MEDIA).length, 2);
  assert.deepEqual(await readdir(folder), ["clip.mp4"]);
});

test("download of a job that did not succeed rejects with JobStateError", async () => {
  server.on("GET", JOB, running(50));
  await assert.rejects(
    client.video.download("vid_123", join(folder, "clip.mp4")),
    (error) => error instanceof JobStateError && error.job.state === "running",
  );
  assert.deepEqual(await readdir(folder), []);
});

test("the API key never goes to another origin", async () => {
  const storage = await startScriptedServer(); // another port: another origin, like S3
  try {
    storage.on("GET", "/bucket/vid_123.mp4", { body: MP4 });
    server.on("GET", JOB, succeeded(`${storage.baseUrl}/bucket/vid_123.mp4?X-Amz-Signature=abc`));
    await client.video.download("vid_123", join(folder, "s3.mp4"));
    assert.equal(storage.requests[0].headers.authorization, undefined);
  } finally {
    await storage.close();
  }
});
