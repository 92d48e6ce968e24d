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

export const FINAL_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];

export function isFinal(job: Pick<VideoJob, "state">): boolean {
  return FINAL_STATES.includes(job.state);
}
