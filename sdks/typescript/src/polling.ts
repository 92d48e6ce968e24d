/** Polling until something is final: a job (`video.wait`) or a batch (`video.waitBatch`). */

import { pollIntervals } from "./backoff.js";
import type { Session } from "./session.js";

export interface PollUntil<T> {
  /** Reads the current value. */
  read: () => Promise<T>;
  isFinal: (value: T) => boolean;
  /** Give up after this long; `null` waits as long as it takes. */
  timeoutMs: number | null;
  /** The error thrown past `timeoutMs`, given the last value read. */
  timedOut: (last: T) => Error;
  onPoll?: (value: T) => void;
}

/** `read()` again, paced by the client's poll pacing and its `sleep`, until the value is final. */
export async function pollUntilFinal<T>(session: Session, poll: PollUntil<T>): Promise<T> {
  const deadline = poll.timeoutMs === null ? undefined : Date.now() + poll.timeoutMs;
  const intervals = pollIntervals(session.config.pollPacing);
  for (;;) {
    const value = await poll.read();
    poll.onPoll?.(value);
    if (poll.isFinal(value)) return value;
    let pause = intervals.next().value;
    if (deadline !== undefined) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw poll.timedOut(value);
      pause = Math.min(pause, remaining);
    }
    await session.config.sleep(pause);
  }
}
