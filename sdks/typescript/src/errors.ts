/**
 * Every error the SDK throws, in one tree (the same as the Python SDK's):
 *
 *     InfraiError                      .status .code .detail .problem .requestId
 *     ├── MissingAPIKeyError           no apiKey option and no INFRAI_API_KEY
 *     ├── APIConnectionError           the server could not be reached (after the retries)
 *     │   └── APITimeoutError          ... because the request timed out
 *     ├── TimeoutError                 wait() gave up before a final state; .job is the last one seen
 *     ├── BatchTimeoutError            waitBatch() gave up before every item ended; .batch
 *     ├── JobStateError                download() of a job that did not succeed; .job
 *     ├── DownloadIntegrityError       the bytes do not match the job's size or sha256
 *     └── APIError                     problem JSON from the server; .retryAfter (seconds)
 *         ├── InvalidRequestError      400 / 422
 *         ├── AuthenticationError      401
 *         ├── InsufficientCreditsError 402
 *         │   └── BudgetExceededError  402 budget_exceeded (a spend cap; .problem has cap_usd, remaining_usd)
 *         ├── PermissionDeniedError    403
 *         ├── NotFoundError            404
 *         ├── ConflictError            409 idempotency_conflict
 *         ├── RateLimitError           429 (.retryAfter, .rateLimits)
 *         │   └── ConcurrencyLimitError 429 concurrency_limit_exceeded (the project or key runs its limit)
 *         ├── InternalServerError      500 and other 5xx
 *         └── ServiceUnavailableError  503
 */

import { parseRateLimit, type RateLimit } from "./ratelimits.js";
import type { VideoBatch, VideoJob } from "./types.js";

/** RFC 9457 problem details, plus whatever members the server adds (e.g. `errors`, `alternatives`). */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  [member: string]: unknown;
}

export interface ErrorFields {
  status?: number;
  code?: string;
  detail?: string;
  problem?: ProblemDetails;
  requestId?: string;
  cause?: unknown;
}

export class InfraiError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly detail: string;
  readonly problem: ProblemDetails;
  readonly requestId: string | undefined;

  constructor(message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.status = fields.status;
    this.code = fields.code;
    this.detail = fields.detail ?? message;
    this.problem = fields.problem ?? {};
    this.requestId = fields.requestId;
  }
}

export class MissingAPIKeyError extends InfraiError {
  constructor() {
    super(
      "No API key: pass { apiKey } to InfraiClient or set INFRAI_API_KEY (`infrai activate` makes one).",
      {
        code: "missing_api_key",
      },
    );
  }
}

export class APIConnectionError extends InfraiError {}
export class APITimeoutError extends APIConnectionError {}

export class TimeoutError extends InfraiError {
  readonly job: VideoJob;
  constructor(message: string, job: VideoJob) {
    super(message, { code: "wait_timeout" });
    this.job = job;
  }
}

export class BatchTimeoutError extends InfraiError {
  readonly batch: VideoBatch;
  constructor(message: string, batch: VideoBatch) {
    super(message, { code: "wait_timeout" });
    this.batch = batch;
  }
}

export class JobStateError extends InfraiError {
  readonly job: VideoJob;
  constructor(message: string, job: VideoJob) {
    super(message, { code: "job_not_succeeded" });
    this.job = job;
  }
}

export class DownloadIntegrityError extends InfraiError {}

export interface APIErrorFields extends ErrorFields {
  retryAfter?: number;
  rateLimits?: RateLimit[];
}

export class APIError extends InfraiError {
  /** The server's `Retry-After`, in seconds, when it sent one. */
  readonly retryAfter: number | undefined;
  /** The server's `RateLimit` field: each policy's remaining requests and reset (empty when not sent). */
  readonly rateLimits: RateLimit[];
  constructor(message: string, fields: APIErrorFields) {
    super(message, fields);
    this.retryAfter = fields.retryAfter;
    this.rateLimits = fields.rateLimits ?? [];
  }
}

export class InvalidRequestError extends APIError {}
export class AuthenticationError extends APIError {}
export class InsufficientCreditsError extends APIError {}
export class BudgetExceededError extends InsufficientCreditsError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
export class ConflictError extends APIError {}
export class RateLimitError extends APIError {}
export class ConcurrencyLimitError extends RateLimitError {}
export class InternalServerError extends APIError {}
export class ServiceUnavailableError extends APIError {}

type APIErrorClass = new (message: string, fields: APIErrorFields) => APIError;

// The problem's code is more specific than its status, so it decides first.
const CLASS_BY_CODE: Record<string, APIErrorClass> = {
  unauthorized: AuthenticationError,
  insufficient_credits: InsufficientCreditsError,
  budget_exceeded: BudgetExceededError,
  concurrency_limit_exceeded: ConcurrencyLimitError,
  not_found: NotFoundError,
  idempotency_conflict: ConflictError,
  rate_limit_exceeded: RateLimitError,
  service_unavailable: ServiceUnavailableError,
};

const CLASS_BY_STATUS: Record<number, APIErrorClass> = {
  400: InvalidRequestError,
  401: AuthenticationError,
  402: InsufficientCreditsError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: InvalidRequestError,
  415: InvalidRequestError,
  422: InvalidRequestError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

/** Seconds from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value);
  return Number.isNaN(when) ? undefined : Math.max(0, (when - Date.now()) / 1000);
}

function parseProblem(text: string): ProblemDetails {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as ProblemDetails) : {};
  } catch {
    return {};
  }
}

/** The error for a response that is not 2xx; reads its body. */
export async function errorFromResponse(response: Response): Promise<APIError> {
  const text = await response.text().catch(() => "");
  const problem = parseProblem(text);
  const code = typeof problem.code === "string" ? problem.code : undefined;
  const detail =
    typeof problem.detail === "string" && problem.detail !== ""
      ? problem.detail
      : text.slice(0, 500) || response.statusText;
  const ErrorClass =
    (code !== undefined ? CLASS_BY_CODE[code] : undefined) ??
    CLASS_BY_STATUS[response.status] ??
    (response.status >= 500 ? InternalServerError : APIError);
  return new ErrorClass(`${response.status} ${code ?? response.statusText}: ${detail}`, {
    status: response.status,
    code,
    detail,
    problem,
    requestId: response.headers.get("x-request-id") ?? undefined,
    retryAfter: parseRetryAfter(response.headers.get("retry-after")),
    rateLimits: parseRateLimit(response.headers.get("ratelimit")),
  });
}
