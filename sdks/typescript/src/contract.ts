/**
 * The field names and enum values `types.ts` declares, as data, for `scripts/check-openapi.mjs`.
 *
 * The `Exact` checks below fail the build if a list and its interface drift apart, so the script always
 * checks what the types really say.
 */

import type { GenerateRequest, JobState, Stage, VideoJob } from "./types.js";

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
] as const;

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export const STAGES = ["submitting", "generating", "rehosting"] as const;

export const contractChecks: {
  videoJob: Exact<(typeof VIDEO_JOB_FIELDS)[number], keyof VideoJob>;
  generateRequest: Exact<(typeof GENERATE_REQUEST_FIELDS)[number], keyof GenerateRequest>;
  jobStates: Exact<(typeof JOB_STATES)[number], JobState>;
  stages: Exact<(typeof STAGES)[number], Stage>;
} = { videoJob: true, generateRequest: true, jobStates: true, stages: true };
