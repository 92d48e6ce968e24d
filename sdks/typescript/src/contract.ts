/**
 * The field names and enum values `types.ts` declares, as data, for `scripts/check-openapi.mjs`.
 *
 * The `Exact` checks below fail the build if a list and its interface drift apart, so the script always
 * checks what the types really say. Every wire type the SDK declares is listed: the job and its nested
 * cost / error / video, the request and its enums, the cancel result, the activation, the account, the
 * budgets and usage report, the batch with its counts, and the webhook message listing and redelivery.
 */

import type {
  Account,
  Activation,
  Aspect,
  Budget,
  BudgetCaps,
  BatchCounts,
  CancelResult,
  GenerateRequest,
  JobCost,
  JobError,
  JobState,
  MessageOutcome,
  Prefer,
  Resolution,
  Stage,
  UsageGroupBy,
  UsageLine,
  UsageReport,
  VideoBatch,
  VideoFile,
  VideoJob,
  WebhookMessagePage,
  WebhookMessageStatus,
  WebhookRedelivery,
} from "./types.js";

type Exact<Listed, Declared> = [Listed] extends [Declared]
  ? [Declared] extends [Listed]
    ? true
    : never
  : never;

export const VIDEO_JOB_FIELDS = [
  "job_id",
  "state",
  "stage",
  "progress",
  "vendor",
  "model",
  "created_at",
  "started_at",
  "finished_at",
  "cost",
  "error",
  "video_url",
  "thumbnail_url",
  "video",
  "deadline_at",
  "eta_seconds",
  "expected_finish_at",
  "eta_source",
  "queue_position",
  "warnings",
] as const;

export const JOB_COST_FIELDS = ["estimated_usd", "settled_usd"] as const;
export const JOB_ERROR_FIELDS = ["code", "message", "retryable", "billed"] as const;
export const VIDEO_FILE_FIELDS = [
  "duration_seconds",
  "width",
  "height",
  "frame_count",
  "size_bytes",
  "sha256",
  "content_type",
] as const;

export const GENERATE_REQUEST_FIELDS = [
  "prompt",
  "reference_image_url",
  "duration_seconds",
  "aspect",
  "resolution",
  "prefer",
  "model",
  "vendor",
  "idempotency_key",
  "deadline_seconds",
] as const;

export const CANCEL_RESULT_FIELDS = ["ok", "job_id", "state"] as const;
export const ACTIVATION_FIELDS = [
  "project_id",
  "key_id",
  "api_key",
  "balance_usd",
  "trial_credits_usd",
] as const;
export const ACCOUNT_FIELDS = [
  "project_id",
  "balance_usd",
  "held_usd",
  "available_usd",
  "usage",
  "keys",
] as const;

export const BUDGET_FIELDS = [
  "scope",
  "key_id",
  "daily_usd",
  "monthly_usd",
  "max_concurrent_jobs",
  "spent_today_usd",
  "spent_this_month_usd",
  "running_jobs",
  "day_resets_at",
  "month_resets_at",
] as const;
export const BUDGET_CAPS_FIELDS = ["daily_usd", "monthly_usd", "max_concurrent_jobs"] as const;
export const USAGE_REPORT_FIELDS = ["from", "to", "group_by", "data", "total"] as const;
export const USAGE_LINE_FIELDS = [
  "day",
  "vendor",
  "model",
  "key_id",
  "jobs",
  "charged_usd",
  "charged_micros",
] as const;
export const USAGE_GROUP_BYS = ["day", "vendor", "model", "key"] as const;
export const VIDEO_BATCH_FIELDS = [
  "batch_id",
  "state",
  "created_at",
  "item_count",
  "counts",
  "items",
] as const;
export const BATCH_COUNTS_FIELDS = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export const WEBHOOK_MESSAGE_PAGE_FIELDS = ["data", "has_more", "next"] as const;
export const WEBHOOK_MESSAGE_FIELDS = [
  "job_id",
  "message_id",
  "event",
  "outcome",
  "attempts",
  "last_outcome",
  "last_status_code",
  "last_error",
  "first_attempt_at",
  "last_attempt_at",
] as const;
export const WEBHOOK_REDELIVERY_FIELDS = [
  "job_id",
  "message_id",
  "event",
  "outcome",
  "attempt",
  "status_code",
  "error",
  "requested_at",
  "replayed",
] as const;

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export const STAGES = ["submitting", "generating", "rehosting"] as const;
export const ASPECTS = ["16:9", "9:16", "1:1"] as const;
export const RESOLUTIONS = ["720p", "1080p", "4k"] as const;
export const PREFERS = ["balanced", "cheapest", "smartest"] as const;
export const MESSAGE_OUTCOMES = ["delivered", "failed"] as const;

type Item<List extends readonly unknown[]> = List[number];

export const contractChecks: {
  videoJob: Exact<Item<typeof VIDEO_JOB_FIELDS>, keyof VideoJob>;
  jobCost: Exact<Item<typeof JOB_COST_FIELDS>, keyof JobCost>;
  jobError: Exact<Item<typeof JOB_ERROR_FIELDS>, keyof JobError>;
  videoFile: Exact<Item<typeof VIDEO_FILE_FIELDS>, keyof VideoFile>;
  generateRequest: Exact<Item<typeof GENERATE_REQUEST_FIELDS>, keyof GenerateRequest>;
  cancelResult: Exact<Item<typeof CANCEL_RESULT_FIELDS>, keyof CancelResult>;
  activation: Exact<Item<typeof ACTIVATION_FIELDS>, keyof Activation>;
  account: Exact<Item<typeof ACCOUNT_FIELDS>, keyof Account>;
  budget: Exact<Item<typeof BUDGET_FIELDS>, keyof Budget>;
  budgetCaps: Exact<Item<typeof BUDGET_CAPS_FIELDS>, keyof BudgetCaps>;
  usageReport: Exact<Item<typeof USAGE_REPORT_FIELDS>, keyof UsageReport>;
  usageLine: Exact<Item<typeof USAGE_LINE_FIELDS>, keyof UsageLine>;
  usageGroupBys: Exact<Item<typeof USAGE_GROUP_BYS>, UsageGroupBy>;
  videoBatch: Exact<Item<typeof VIDEO_BATCH_FIELDS>, keyof VideoBatch>;
  batchCounts: Exact<Item<typeof BATCH_COUNTS_FIELDS>, keyof BatchCounts>;
  webhookMessagePage: Exact<Item<typeof WEBHOOK_MESSAGE_PAGE_FIELDS>, keyof WebhookMessagePage>;
  webhookMessage: Exact<Item<typeof WEBHOOK_MESSAGE_FIELDS>, keyof WebhookMessageStatus>;
  webhookRedelivery: Exact<Item<typeof WEBHOOK_REDELIVERY_FIELDS>, keyof WebhookRedelivery>;
  jobStates: Exact<Item<typeof JOB_STATES>, JobState>;
  stages: Exact<Item<typeof STAGES>, Stage>;
  aspects: Exact<Item<typeof ASPECTS>, Aspect>;
  resolutions: Exact<Item<typeof RESOLUTIONS>, Resolution>;
  prefers: Exact<Item<typeof PREFERS>, Prefer>;
  messageOutcomes: Exact<Item<typeof MESSAGE_OUTCOMES>, MessageOutcome>;
} = {
  videoJob: true,
  jobCost: true,
  jobError: true,
  videoFile: true,
  generateRequest: true,
  cancelResult: true,
  activation: true,
  account: true,
  budget: true,
  budgetCaps: true,
  usageReport: true,
  usageLine: true,
  usageGroupBys: true,
  videoBatch: true,
  batchCounts: true,
  webhookMessagePage: true,
  webhookMessage: true,
  webhookRedelivery: true,
  jobStates: true,
  stages: true,
  aspects: true,
  resolutions: true,
  prefers: true,
  messageOutcomes: true,
};
