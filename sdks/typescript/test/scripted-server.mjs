// A real HTTP server on 127.0.0.1 whose routes answer from a script, and that records every request.
// Each route answers its replies in order; the last one keeps answering once the others are used up.

import { createServer } from "node:http";

/**
 * @typedef {{ status?: number, headers?: Record<string, string>, json?: unknown, body?: Buffer | string,
 *   dropAfter?: number, delayMs?: number }} Reply  dropAfter: send that many body bytes, then cut the
 *   connection; delayMs: wait that long before answering.
 */

export async function startScriptedServer() {
  const routes = new Map();
  const requests = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const url = new URL(req.url, "http://127.0.0.1");
    const body = Buffer.concat(chunks).toString("utf8");
    requests.push({
      method: req.method,
      path: url.pathname,
      rawPath: req.url,
      query: url.searchParams,
      headers: req.headers,
      body,
    });
    const queue = routes.get(`${req.method} ${url.pathname}`);
    const reply =
      queue === undefined
        ? { status: 404, json: { code: "not_found", detail: "unscripted" } }
        : queue.length > 1
          ? queue.shift()
          : queue[0];
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (!res.destroyed) answer(res, reply);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    /** @param {...Reply} replies */
    on(method, path, ...replies) {
      const queue = routes.get(`${method} ${path}`) ?? [];
      queue.push(...replies);
      routes.set(`${method} ${path}`, queue);
    },
    sent(method, path) {
      return requests.filter((r) => r.method === method && r.path === path);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function answer(res, reply) {
  const payload =
    reply.json !== undefined ? Buffer.from(JSON.stringify(reply.json)) : Buffer.from(reply.body ?? "");
  const contentType = reply.json !== undefined ? "application/json" : "application/octet-stream";
  res.writeHead(reply.status ?? 200, {
    "Content-Type": contentType,
    "Content-Length": String(payload.length),
    ...reply.headers,
  });
  if (reply.dropAfter === undefined) {
    res.end(payload);
    return;
  }
  res.write(payload.subarray(0, reply.dropAfter), () => res.socket.destroy());
}

export function problem(status, code, detail = "it went wrong", headers = {}) {
  return {
    status,
    headers: { "Content-Type": "application/problem+json", ...headers },
    json: { type: `https://infrai.dev/problems/${code}`, title: "Error", status, detail, code },
  };
}

export function jobJson(fields = {}) {
  return {
    job_id: "vid_123",
    state: "queued",
    stage: null,
    progress: null,
    vendor: "local",
    model: "local-v1",
    created_at: "2025-01-02T03:04:05Z",
    started_at: null,
    finished_at: null,
    cost: { estimated_usd: "0.00", settled_usd: null },
    error: null,
    video_url: null,
    thumbnail_url: null,
    video: null,
    ...fields,
  };
}

/** Client options for tests: tiny retry and poll delays (the delays themselves are unit-tested). */
export function fastOptions(baseUrl, extra = {}) {
  return {
    apiKey: "ifr_pk_proj_test",
    baseUrl,
    retry: { initialDelayMs: 1, maxDelayMs: 2 },
    pollPacing: { intervalMs: 1, maxIntervalMs: 2 },
    ...extra,
  };
}
