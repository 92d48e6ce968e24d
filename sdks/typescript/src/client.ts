/** `InfraiClient`: `new InfraiClient({ apiKey }).video.generate({ prompt })`. */

import { Accounts } from "./accounts.js";
import { DEFAULT_POLL_PACING, DEFAULT_RETRY_POLICY, type PollPacing, type RetryPolicy } from "./backoff.js";
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
}

export class InfraiClient {
  readonly video: Video;
  readonly accounts: Accounts;
  readonly webhooks: Webhooks;
  readonly baseUrl: string;

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
    });
    this.video = new Video(session);
    this.accounts = new Accounts(session);
    this.webhooks = new Webhooks(session);
  }
}
