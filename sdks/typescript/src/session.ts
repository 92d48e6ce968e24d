/**
 * One API call: build the request, send it with retries, turn an error answer into an exception.
 *
 * Retry rules (why each is safe):
 * - a connection that was never established is retried for any request: the server never saw it;
 * - a 429 is retried for any request: the server refused it before doing anything. The wait is the
 *   server's: `Retry-After`, else the reset (`t`) of the exhausted policy in its `RateLimit` field, and
 *   only without either a backoff;
 * - other network errors and 5xx are retried only for `repeatable` requests (GETs, cancel, and generate,
 *   which always carries an Idempotency-Key so a repeat returns the job the first attempt created).
 */

import { RETRYABLE_STATUSES, retryDelayMs, type PollPacing, type RetryPolicy } from "./backoff.js";
import { APIConnectionError, APITimeoutError, MissingAPIKeyError, errorFromResponse } from "./errors.js";
import { exhaustedReset, parseRateLimit, type RateLimit } from "./ratelimits.js";
import { SDK_VERSION } from "./version.js";

export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";

export interface SessionConfig {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  pollPacing: PollPacing;
  fetch: typeof fetch;
  /** Every wait between attempts and polls goes through this (tests measure the waits with it). */
  sleep: (ms: number) => Promise<void>;
}

export interface RequestSpec {
  method: "GET" | "POST" | "PUT";
  /** A path under the base URL, or an absolute URL (signed media URLs). */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  authenticated?: boolean;
  repeatable: boolean;
}

// Error codes of a connection that was never made (Node's fetch puts them on `error.cause.code`).
const NEVER_REACHED_SERVER = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

export function environment(name: string): string | undefined {
  return typeof process === "undefined" ? undefined : process.env[name] || undefined;
}

export class Session {
  /** A key `activate()` returned, used when neither the apiKey option nor INFRAI_API_KEY gives one. */
  activatedKey: string | undefined;
  /** The `RateLimit` field of the last response that carried one. */
  rateLimits: RateLimit[] = [];

  constructor(readonly config: SessionConfig) {}

  apiKey(): string {
    const key = this.config.apiKey ?? environment("INFRAI_API_KEY") ?? this.activatedKey;
    if (key === undefined) throw new MissingAPIKeyError();
    return key;
  }

  url(pathOrUrl: string): string {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl)) return pathOrUrl;
    return `${this.config.baseUrl}/${pathOrUrl.replace(/^\/+/, "")}`;
  }

  isOwnOrigin(url: string): boolean {
    return new URL(url).origin === new URL(this.config.baseUrl).origin;
  }

  /** The successful response, retried where that is safe; throws the mapped error otherwise. */
  async send(spec: RequestSpec): Promise<Response> {
    const url = this.url(spec.path);
    const headers: Record<string, string> = {
      Accept: "application/json",
      "User-Agent": `infrai-typescript/${SDK_VERSION}`,
      ...spec.headers,
    };
    if (spec.authenticated ?? true) headers.Authorization = `Bearer ${this.apiKey()}`;
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(spec.body);
    }
    for (let retries = 0; ; retries += 1) {
      let response: Response;
      try {
        response = await this.fetchWithTimeout(url, { method: spec.method, headers, body });
      } catch (error) {
        const safe = spec.repeatable || NEVER_REACHED_SERVER.has(causeCode(error) ?? "");
        const delay = safe ? retryDelayMs(this.config.retry, retries) : undefined;
        if (delay === undefined) throw connectionError(error, spec.method, url);
        await this.config.sleep(delay);
        continue;
      }
      const limits = parseRateLimit(response.headers.get("ratelimit"));
      if (limits.length > 0) this.rateLimits = limits;
      if (response.ok) return response;
      const apiError = await errorFromResponse(response);
      const mayRetry =
        response.status === 429 || (spec.repeatable && RETRYABLE_STATUSES.has(response.status));
      let told = apiError.retryAfter;
      if (told === undefined && response.status === 429) told = exhaustedReset(apiError.rateLimits);
      const delay = mayRetry
        ? retryDelayMs(this.config.retry, retries, told === undefined ? undefined : told * 1000)
        : undefined;
      if (delay === undefined) throw apiError;
      await this.config.sleep(delay);
    }
  }

  /**
   * The timeout covers the wait for the response headers only, so a long video download is not cut off;
   * a stalled body is still ended by Node's own idle timeout (undici's bodyTimeout).
   */
  private async fetchWithTimeout(url: string, init: RequestInit): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("the request timed out", "TimeoutError")),
      this.config.timeoutMs,
    );
    try {
      return await this.config.fetch(url, { ...init, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  async json<T>(spec: RequestSpec): Promise<T> {
    const response = await this.send(spec);
    return (await response.json()) as T;
  }

  async text(spec: RequestSpec): Promise<string> {
    const response = await this.send(spec);
    return await response.text();
  }
}

export function connectionError(error: unknown, method: string, url: string): APIConnectionError {
  const reason = causeCode(error) ?? (error instanceof Error ? error.message : String(error));
  const ErrorClass = isTimeout(error) ? APITimeoutError : APIConnectionError;
  return new ErrorClass(`${method} ${url} failed: ${reason}`, { code: "connection", cause: error });
}
