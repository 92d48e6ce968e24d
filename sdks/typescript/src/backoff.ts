/** How long to wait: between retries of one request, and between status polls of one job. */

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Exponential backoff with jitter for 429 / 5xx / connection errors. A `Retry-After` is obeyed as given;
 * one longer than `maxRetryAfterMs` (a daily quota, say) is not slept through: the error is thrown at once.
 */
export interface RetryPolicy {
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 2,
  initialDelayMs: 500,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
};

/** Milliseconds before the next attempt, or undefined when no retry should be made. */
export function retryDelayMs(
  policy: RetryPolicy,
  retriesDone: number,
  retryAfterMs?: number,
): number | undefined {
  if (retriesDone >= policy.maxRetries) return undefined;
  if (retryAfterMs !== undefined) return retryAfterMs <= policy.maxRetryAfterMs ? retryAfterMs : undefined;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retriesDone);
  // Jitter spreads out clients that failed together so they do not come back together.
  return ceiling * (0.5 + Math.random() / 2);
}

/** Status polls start quick (short jobs finish fast) and slow down to `maxIntervalMs`. */
export interface PollPacing {
  intervalMs: number;
  maxIntervalMs: number;
  factor: number;
}

export const DEFAULT_POLL_PACING: PollPacing = { intervalMs: 1000, maxIntervalMs: 10_000, factor: 1.5 };

export function* pollIntervals(pacing: PollPacing): Generator<number, never, void> {
  let current = pacing.intervalMs;
  for (;;) {
    yield Math.min(current, pacing.maxIntervalMs) * (0.9 + Math.random() / 10);
    current = Math.min(current * pacing.factor, pacing.maxIntervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
