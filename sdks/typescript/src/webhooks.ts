/**
 * `client.webhooks`: the project's webhook messages across jobs, and sending one again.
 *
 *     for await (const message of client.webhooks.deliveries({ outcome: "failed" })) {
 *       await client.webhooks.redeliver(message.job_id, message.message_id);
 *     }
 */

import type { Session } from "./session.js";
import type { MessageOutcome, WebhookMessagePage, WebhookMessageStatus, WebhookRedelivery } from "./types.js";
import { newIdempotencyKey } from "./video.js";

export interface DeliveriesOptions {
  /** `failed`: messages no attempt has delivered yet; `delivered`; both when left out. */
  outcome?: MessageOutcome;
  /** Messages per page, 1-100 (the server's default is 20). */
  limit?: number;
}

export interface DeliveriesPageOptions extends DeliveriesOptions {
  /** The `next` cursor of the previous page. */
  after?: string;
}

export interface RedeliverOptions {
  /** Repeat a redelivery without sending it twice; one is made per call when left out. */
  idempotencyKey?: string;
}

export class Webhooks {
  constructor(private readonly session: Session) {}

  /** One page of the project's webhook messages, newest first; pass its `next` as `after`. */
  deliveriesPage(options: DeliveriesPageOptions = {}): Promise<WebhookMessagePage> {
    const query = new URLSearchParams();
    if (options.outcome !== undefined) query.set("outcome", options.outcome);
    if (options.after !== undefined) query.set("after", options.after);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    const suffix = query.toString() ? `?${query.toString()}` : "";
    return this.session.json<WebhookMessagePage>({
      method: "GET",
      path: `/v1/account/webhook-deliveries${suffix}`,
      repeatable: true,
    });
  }

  /** Every message of the project, newest first, fetching the next page as iteration reaches it. */
  async *deliveries(options: DeliveriesOptions = {}): AsyncGenerator<WebhookMessageStatus, void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.deliveriesPage({ ...options, after });
      yield* page.data;
      if (!page.has_more || page.next === null) return;
      after = page.next;
    }
  }

  /**
   * Send the message again, once: the same `webhook-id` and body, signed now. Resolves with how the
   * receiver answered (`outcome` `delivered`, `failed`, ...; `pending` if it had not yet). Rejects with
   * ConflictError while another redelivery of it runs, NotFoundError for no such message. The key is sent
   * on every retry, so a retry is answered with the first redelivery instead of a second POST.
   */
  async redeliver(
    jobId: string,
    messageId: string,
    options: RedeliverOptions = {},
  ): Promise<WebhookRedelivery> {
    const key = options.idempotencyKey ?? (await newIdempotencyKey());
    const path =
      `/v1/video/jobs/${encodeURIComponent(jobId)}/webhook-deliveries/` +
      `${encodeURIComponent(messageId)}/redeliver`;
    return this.session.json<WebhookRedelivery>({
      method: "POST",
      path,
      headers: { "Idempotency-Key": key },
      repeatable: true,
    });
  }
}
