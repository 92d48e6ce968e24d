export { InfraiClient, type ClientOptions } from "./client.js";
export { Video, DEFAULT_WAIT_TIMEOUT_MS, type GenerateOptions, type WaitOptions } from "./video.js";
export { Accounts, type UsageOptions } from "./accounts.js";
export {
  DEFAULT_BATCH_WAIT_TIMEOUT_MS,
  type BatchWaitOptions,
  type GenerateBatchOptions,
} from "./batches.js";
export {
  Webhooks,
  type DeliveriesOptions,
  type DeliveriesPageOptions,
  type RedeliverOptions,
} from "./webhooks.js";
export {
  DEFAULT_POLL_PACING,
  DEFAULT_RETRY_POLICY,
  retryDelayMs,
  type PollPacing,
  type RetryPolicy,
} from "./backoff.js";
export * from "./errors.js";
export { exhaustedReset, parseRateLimit, type RateLimit } from "./ratelimits.js";
export * from "./types.js";
export { GENERATE_REQUEST_FIELDS, JOB_STATES, STAGES, VIDEO_JOB_FIELDS } from "./contract.js";
export { DEFAULT_BASE_URL } from "./session.js";
export { SDK_VERSION } from "./version.js";
