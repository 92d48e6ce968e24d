/**
 * The wire types of the Infrai Video API (design section 3), as the server sends them.
 *
 * Objects from the server are returned as parsed, so fields added later are still there at runtime even
 * though these interfaces do not name them. `contract.ts` lists the names declared here so that
 * `scripts/check-openapi.mjs` can hold them against the server's `/openapi.json`.
 */

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export type Stage = "submitting" | "generating" | "rehosting";
export type Resolution = "720p" | "1080p" | "4k";
export type Aspect = "16:9" | "9:16" | "1:1";
export type Prefer = "balanced" | "cheapest" | "smartest";

/** Money is sent as decimal strings ("0.40") so no precision is lost. */
export interface JobCost {
  estimated_usd: string;
  settled_usd: string | null;
}

export interface JobError {
  code: string;
  message: string;
  retryable: boolean;
  billed: boolean;
}

export interface VideoFile {
  duration_seconds: number | null;
  width: number | null;
  height: number | null;
  frame_count: number | null;
  size_bytes: number | null;
  sha256: string | null;
  content_type: string;
}

export interface VideoJob {
  job_id: string;
  state: JobState;
  stage: Stage | null;
  progress: number | null;
  vendor: string | null;
  model: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  cost: JobCost;
  error: JobError | null;
  /** A signed URL on our storage, minted fresh by each status call. */
  video_url: string | null;
  thumbnail_url: string | null;
  video: VideoFile | null;
  /** When the job's deadline cancels it if it has not finished; null without a deadline. */
  deadline_at?: string | null;
  /** While the job runs: seconds until the vendor is expected to finish. */
  eta_seconds: number | null;
  expected_finish_at: string | null;
  /** `measured`: p50/p90 of recent jobs like it; `catalog`: the catalog's typical latency (too few yet). */
  eta_source: "measured" | "catalog" | null;
  /** Requests ahead of this one in the vendor's queue, where the vendor reports one (fal). */
  queue_position: number | null;
  /** E.g. `model_deprecated` on a job started on a deprecated model. */
  warnings: JobWarning[];
}

export interface JobWarning {
  code: string;
  message: string;
}

/** Vendor time (accepted → finished) of a model's recent jobs at one resolution and duration. */
export interface MeasuredLatency {
  resolution: string;
  duration_seconds: number;
  samples: number;
  p50_seconds: number;
  p90_seconds: number;
  used_for_eta: boolean;
}

export type ModelLifecycle = "active" | "deprecated" | "retired";

/** One entry of `GET /v1/video/models` (the fields named here; the server sends more). */
export interface VideoModelInfo {
  id: string;
  vendor: string;
  model: string;
  name: string;
  available: boolean;
  resolutions: string[];
  durations_seconds: number[];
  typical_latency_seconds: number;
  measured_latency: MeasuredLatency[];
  lifecycle: ModelLifecycle;
  deprecated_on: string | null;
  retired_on: string | null;
  successor: string | null;
  aliases: string[];
}

export interface ModelList {
  object: "list";
  catalog_updated: string;
  data: VideoModelInfo[];
}

export interface GenerateRequest {
  prompt: string;
  reference_image_url?: string;
  duration_seconds?: number;
  aspect?: Aspect;
  resolution?: Resolution;
  prefer?: Prefer;
  model?: string;
  vendor?: string;
  idempotency_key?: string;
  /** Cancel the job if it has not finished this many seconds after it started (5 s to 24 h). */
  deadline_seconds?: number;
}

/** One item of a batch: its place in the request (`index`) and its job. */
export interface BatchItem extends VideoJob {
  index: number;
}

export interface BatchCounts {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface VideoBatch {
  batch_id: string;
  /** `completed` once every item has ended. */
  state: "running" | "completed";
  created_at: string;
  item_count: number;
  counts: BatchCounts;
  items: BatchItem[];
}

export interface CancelResult {
  ok: boolean;
  job_id: string;
  state: JobState;
}

export interface Activation {
  project_id: string;
  key_id: string;
  api_key: string;
  balance_usd: string;
  trial_credits_usd: string;
}

export interface AccountUsage {
  jobs_charged: number;
  charged_usd: string;
}

export interface ApiKeyInfo {
  key_id: string;
  created_at: string;
  revoked_at: string | null;
}

export interface Account {
  project_id: string;
  balance_usd: string;
  held_usd: string;
  available_usd: string;
  usage: AccountUsage;
  /** The project's keys (ids only: a key's secret is shown once, when it is made). */
  keys: ApiKeyInfo[];
}

/** A budget to set: a cap left out (or null) is removed. Money as decimal strings ("25.00"). */
export interface BudgetCaps {
  daily_usd?: string | null;
  monthly_usd?: string | null;
  max_concurrent_jobs?: number | null;
}

/** A project's or a key's caps (null: none) and what counts against them now (settled + held spend). */
export interface Budget {
  scope: "project" | "key";
  key_id: string | null;
  daily_usd: string | null;
  monthly_usd: string | null;
  max_concurrent_jobs: number | null;
  spent_today_usd: string;
  spent_this_month_usd: string;
  running_jobs: number;
  day_resets_at: string;
  month_resets_at: string;
}

export interface Budgets {
  project: Budget;
  keys: Budget[];
}

export type UsageGroupBy = "day" | "vendor" | "model" | "key";

/** One group of a usage report: the grouping's own fields are set, the others null. */
export interface UsageLine {
  day: string | null;
  vendor: string | null;
  model: string | null;
  key_id: string | null;
  jobs: number;
  charged_usd: string;
  charged_micros: number;
}

export interface UsageTotal {
  jobs: number;
  charged_usd: string;
  charged_micros: number;
}

export interface UsageReport {
  from: string;
  to: string;
  group_by: UsageGroupBy;
  data: UsageLine[];
  total: UsageTotal;
}

/** A webhook message's delivery: `delivered` once any attempt was, `failed` while none was. */
export type MessageOutcome = "delivered" | "failed";

/** One webhook message (one `webhook-id`) of a job and how its delivery stands. */
export interface WebhookMessageStatus {
  job_id: string;
  message_id: string;
  /** The job state change: `running`, `succeeded`, `failed` or `cancelled`. */
  event: string;
  outcome: MessageOutcome;
  attempts: number;
  /** The last attempt's: `delivered`, `failed`, `gone` or `refused`. */
  last_outcome: string;
  last_status_code: number | null;
  last_error: string | null;
  first_attempt_at: string;
  last_attempt_at: string;
}

export interface WebhookMessagePage {
  data: WebhookMessageStatus[];
  has_more: boolean;
  next: string | null;
}

export interface WebhookRedelivery {
  job_id: string;
  message_id: string;
  event: string;
  /** `delivered`, `failed`, `gone`, `refused`, or `pending` while the receiver had not answered. */
  outcome: string;
  attempt: number | null;
  status_code: number | null;
  error: string | null;
  requested_at: string;
  /** True: an earlier redelivery with the same Idempotency-Key answered, nothing was sent again. */
  replayed: boolean;
}

export const FINAL_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];

export function isFinal(job: Pick<VideoJob, "state">): boolean {
  return FINAL_STATES.includes(job.state);
}
