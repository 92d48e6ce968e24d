/** Batches: up to 100 jobs under one idempotency key and one credit check (`client.video.generateBatch`). */

import { BatchTimeoutError } from "./errors.js";
import { pollUntilFinal } from "./polling.js";
import type { Session } from "./session.js";
import type { GenerateRequest, VideoBatch } from "./types.js";

export interface GenerateBatchOptions {
  /** Gets one signed `batch.completed` POST (Standard Webhooks) once every item ended. */
  webhook_url?: string;
  /** Same key and items → the same batch; made fresh for the call when absent (and kept across retries). */
  idempotency_key?: string;
  /** Resolve only once every item ended (see `waitBatch`). */
  wait?: boolean;
  waitTimeoutMs?: number | null;
}

export interface BatchWaitOptions {
  /** Give up after this long (default 10 minutes); `null` waits as long as it takes. */
  timeoutMs?: number | null;
  /** Sees every status polled. */
  onPoll?: (batch: VideoBatch) => void;
}

export const DEFAULT_BATCH_WAIT_TIMEOUT_MS = 600_000;

function batchPath(batchId: string): string {
  return `/v1/video/batches/${encodeURIComponent(batchId)}`;
}

export function createBatch(
  session: Session,
  items: Omit<GenerateRequest, "idempotency_key">[],
  options: GenerateBatchOptions,
  idempotencyKey: string,
): Promise<VideoBatch> {
  const body: Record<string, unknown> = { items, idempotency_key: idempotencyKey };
  if (options.webhook_url !== undefined) body.webhook_url = options.webhook_url;
  return session.json<VideoBatch>({
    method: "POST",
    path: "/v1/video/batches",
    body,
    headers: { "Idempotency-Key": idempotencyKey },
    repeatable: true,
  });
}

export function batchStatus(session: Session, batchId: string): Promise<VideoBatch> {
  return session.json<VideoBatch>({ method: "GET", path: batchPath(batchId), repeatable: true });
}

export function cancelBatch(session: Session, batchId: string): Promise<VideoBatch> {
  return session.json<VideoBatch>({ method: "POST", path: `${batchPath(batchId)}/cancel`, repeatable: true });
}

export async function waitBatch(
  session: Session,
  batchId: string,
  options: BatchWaitOptions = {},
): Promise<VideoBatch> {
  const timeoutMs = options.timeoutMs === undefined ? DEFAULT_BATCH_WAIT_TIMEOUT_MS : options.timeoutMs;
  return pollUntilFinal(session, {
    read: () => batchStatus(session, batchId),
    isFinal: (batch) => batch.state === "completed",
    timeoutMs,
    timedOut: (batch) =>
      new BatchTimeoutError(`batch ${batchId} was still running after ${timeoutMs}ms`, batch),
    onPoll: options.onPoll,
  });
}
