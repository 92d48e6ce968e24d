/** `InfraiClient`: `new InfraiClient({ apiKey }).video.generate({ prompt })`. */

import { Accounts } from "./accounts.js";
import {
  DEFAULT_POLL_PACING,
  DEFAULT_RETRY_POLICY,
  sleep,
  type PollPacing,
  type RetryPolicy,
} from "./backoff.js";
import type { RateLimit } from "./ratelimits.js";
import { DEFAULT_BASE_URL, Session, environment } from "./session.js";
import { Video } from "./video.js";
import { Webhooks } from "./webhooks.js";

export interface ClientOptions {
  /** Else INFRAI_API_KEY. Not needed for `accounts.activate()`. */
  apiKey?: string;
  /** Else INFRAI_BASE_URL, else http://127.0.0.1:8000 (the embedded stack). */
  baseUrl?: string;
  /** Per HTTP request (default 60 s). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2). */
  maxRetries?: number;
  retry?: Partial<Omit<RetryPolicy, "maxRetries">>;
  pollPacing?: Partial<PollPacing>;
  /** Bring your own fetch (proxies, instrumentation); defaults to the global one. */
  fetch?: typeof fetch;
  /** Every wait between retries and status polls (instrumentation, tests); defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
}

export class InfraiClient {
  readonly video: Video;
  readonly accounts: Accounts;
  readonly webhooks: Webhooks;
  readonly baseUrl: string;
  private readonly session: Session;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? environment("INFRAI_BASE_URL") ?? DEFAULT_BASE_URL).replace(
      /\/+$/,
      "",
    );
    const session = new Session({
      baseUrl: this.baseUrl,
      apiKey: options.apiKey || undefined,
      timeoutMs: options.timeoutMs ?? 60_000,
      retry: {
        ...DEFAULT_RETRY_POLICY,
        ...options.retry,
        maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
      },
      pollPacing: { ...DEFAULT_POLL_PACING, ...options.pollPacing },
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      sleep: options.sleep ?? sleep,
    });
    this.session = session;
    this.video = new Video(session);
    this.accounts = new Accounts(session);
    this.webhooks = new Webhooks(session);
  }

  /**
   * What the server last said of this key's rate limits (its `RateLimit` field): per policy, the requests
   * left and the seconds until the window ends. Empty until a response carried one.
   */
  get rateLimits(): readonly RateLimit[] {
    return this.session.rateLimits;
  }
}
