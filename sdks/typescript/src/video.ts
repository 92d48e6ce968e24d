/** `client.video`: generate, status, cancel, wait, download and models. */

import { retryDelayMs } from "./backoff.js";
import { JobStateError, TimeoutError } from "./errors.js";
import { pollUntilFinal } from "./polling.js";
import { connectionError, type Session } from "./session.js";
import {
  batchStatus,
  cancelBatch,
  createBatch,
  DEFAULT_BATCH_WAIT_TIMEOUT_MS,
  waitBatch,
  type BatchWaitOptions,
  type GenerateBatchOptions,
} from "./batches.js";
import {
  isFinal,
  type CancelResult,
  type GenerateRequest,
  type ModelList,
  type VideoBatch,
  type VideoJob,
} from "./types.js";

export const DEFAULT_WAIT_TIMEOUT_MS = 600_000;

export interface WaitOptions {
  /** Give up after this long (default 10 minutes); `null` waits as long as it takes. */
  timeoutMs?: number | null;
  /** Sees every status polled, e.g. to draw progress. */
  onPoll?: (job: VideoJob) => void;
}

export interface GenerateOptions extends GenerateRequest {
  /** Poll until the job is final before resolving (see `wait`). */
  wait?: boolean;
  waitTimeoutMs?: number | null;
  /**
   * Cancel the job if it has not finished this many seconds after it started (5 s to 24 h): it then ends
   * `cancelled` with `error.code === "deadline_exceeded"`. Sent as `deadline_seconds`.
   */
  deadlineSeconds?: number;
}

export async function newIdempotencyKey(): Promise<string> {
  const webCrypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (webCrypto?.randomUUID) return `infrai-ts-${webCrypto.randomUUID()}`;
  const { randomUUID } = await import("node:crypto"); // Node 18 without the global Web Crypto
  return `infrai-ts-${randomUUID()}`;
}

function jobPath(jobId: string): string {
  return `/v1/video/jobs/${encodeURIComponent(jobId)}`;
}

export class Video {
  constructor(private readonly session: Session) {}

  /**
   * Start a job (202), or get the one this `idempotency_key` already started (200). Without a key a fresh
   * one is made for this call and repeated on each retry, so the SDK's retries never start a second job.
   */
  async generate(options: GenerateOptions): Promise<VideoJob> {
    const { wait, waitTimeoutMs, deadlineSeconds, ...request } = options;
    const idempotencyKey = request.idempotency_key ?? (await newIdempotencyKey());
    const body: GenerateRequest = { resolution: "720p", prefer: "balanced", ...request };
    if (deadlineSeconds !== undefined) {
      if (request.deadline_seconds !== undefined && request.deadline_seconds !== deadlineSeconds)
        throw new TypeError("deadlineSeconds and deadline_seconds differ; give one of them");
      body.deadline_seconds = deadlineSeconds;
    }
    body.idempotency_key = idempotencyKey;
    const job = await this.session.json<VideoJob>({
      method: "POST",
      path: "/v1/video/generate",
      body,
      headers: { "Idempotency-Key": idempotencyKey },
      repeatable: true,
    });
    if (!wait || isFinal(job)) return job;
    return this.wait(job.job_id, {
      timeoutMs: waitTimeoutMs === undefined ? DEFAULT_WAIT_TIMEOUT_MS : waitTimeoutMs,
    });
  }

  /**
   * Start up to 100 jobs as one batch: every item is checked and its credits held first, so all start or
   * none does (402). Each item is an ordinary job (`status`, `cancel`, `download` work on it).
   */
  async generateBatch(
    items: Omit<GenerateRequest, "idempotency_key">[],
    options: GenerateBatchOptions = {},
  ): Promise<VideoBatch> {
    const key = options.idempotency_key ?? (await newIdempotencyKey());
    const batch = await createBatch(this.session, items, options, key);
    if (!options.wait || batch.state === "completed") return batch;
    const timeoutMs =
      options.waitTimeoutMs === undefined ? DEFAULT_BATCH_WAIT_TIMEOUT_MS : options.waitTimeoutMs;
    return waitBatch(this.session, batch.batch_id, { timeoutMs });
  }

  /** The batch: every item with its job's state, and the counts per state. */
  batch(batchId: string): Promise<VideoBatch> {
    return batchStatus(this.session, batchId);
  }

  /** Cancel every unfinished item; resolves with the batch as it is then. */
  cancelBatch(batchId: string): Promise<VideoBatch> {
    return cancelBatch(this.session, batchId);
  }

  /** Poll until every item ended; rejects with `BatchTimeoutError` (carrying `.batch`) after `timeoutMs`. */
  waitBatch(batchId: string, options: BatchWaitOptions = {}): Promise<VideoBatch> {
    return waitBatch(this.session, batchId, options);
  }

  status(jobId: string): Promise<VideoJob> {
    return this.session.json<VideoJob>({ method: "GET", path: jobPath(jobId), repeatable: true });
  }

  /** The catalog: availability, lifecycle (deprecated / retired dates, successor, aliases) and measured
   * vendor times (p50/p90 per resolution and duration, with sample counts). */
  models(): Promise<ModelList> {
    return this.session.json<ModelList>({ method: "GET", path: "/v1/video/models", repeatable: true });
  }

  /** Ask for cancellation; `ok` is false when the job had already finished. */
  cancel(jobId: string): Promise<CancelResult> {
    return this.session.json<CancelResult>({
      method: "POST",
      path: `${jobPath(jobId)}/cancel`,
      repeatable: true,
    });
  }

  /**
   * Poll with backoff until the job is succeeded, failed or cancelled, and resolve with it: a failed or
   * cancelled job is a result, not an exception. Rejects with `TimeoutError` (carrying the last job seen)
   * after `timeoutMs`.
   */
  async wait(jobId: string, options: WaitOptions = {}): Promise<VideoJob> {
    const timeoutMs = options.timeoutMs === undefined ? DEFAULT_WAIT_TIMEOUT_MS : options.timeoutMs;
    return pollUntilFinal(this.session, {
      read: () => this.status(jobId),
      isFinal,
      timeoutMs,
      timedOut: (job) => new TimeoutError(`job ${jobId} was still ${job.state} after ${timeoutMs}ms`, job),
      onPoll: options.onPoll,
    });
  }

  /**
   * Stream the job's MP4 to `path` (a file, or a folder to put `<job_id>.mp4` in); Node only. The file
   * appears whole or not at all, after its size and sha256 were checked against the job.
   */
  async download(jobId: string, path: string): Promise<string> {
    const job = await this.status(jobId); // each status call mints a fresh signed URL
    if (job.state !== "succeeded" || !job.video_url) {
      throw new JobStateError(`job ${jobId} is ${job.state}; only a succeeded job has a video`, job);
    }
    const { saveAtomically, targetPath } = await import("./media.js"); // keeps node:fs out of browsers
    const target = await targetPath(path, job.job_id);
    const url = this.session.url(job.video_url);
    const expected = { size: job.video?.size_bytes ?? null, sha256: job.video?.sha256 ?? null };
    for (let retries = 0; ; retries += 1) {
      // Media URLs are signed; the API key only ever goes back to the API's own origin, never to S3.
      const response = await this.session.send({
        method: "GET",
        path: url,
        headers: { Accept: "*/*" },
        authenticated: this.session.isOwnOrigin(url),
        repeatable: true,
      });
      try {
        return await saveAtomically(response, target, expected);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // a network error mid-body; integrity errors are final
        const delay = retryDelayMs(this.session.config.retry, retries);
        if (delay === undefined) throw connectionError(error, "GET", url);
        await this.session.config.sleep(delay);
      }
    }
  }
}
