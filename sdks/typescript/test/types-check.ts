// Compiled (never run) by `npm run lint`: the published declarations type the seed's usage, and reject
// what the API would reject. Each @ts-expect-error fails the compile if its line stops being an error.

import { InfraiClient, NotFoundError, type CancelResult, type VideoJob } from "@infrai/sdk";

export async function seedUsage(): Promise<void> {
  const client = new InfraiClient({ apiKey: process.env.INFRAI_API_KEY! });
  const job: VideoJob = await client.video.generate({ prompt: "...", resolution: "1080p" });
  const state: "queued" | "running" | "succeeded" | "failed" | "cancelled" = job.state;
  await client.video.status(job.job_id);
  const cancelled: CancelResult = await client.video.cancel(job.job_id);
  const done: VideoJob = await client.video.wait(job.job_id, { timeoutMs: 60_000 });
  void [state, cancelled.ok, done.video?.sha256];

  // @ts-expect-error: not a resolution the API offers
  await client.video.generate({ prompt: "...", resolution: "8k" });
  // @ts-expect-error: the prompt is required
  await client.video.generate({ resolution: "720p" });

  try {
    await client.video.status("vid_missing");
  } catch (error) {
    if (error instanceof NotFoundError) void error.code;
  }
}
