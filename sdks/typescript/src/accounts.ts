/** `client.accounts`: create an anonymous account with trial credits, and read the balance. */

import type { Session } from "./session.js";
import type { Account, Activation } from "./types.js";

export class Accounts {
  constructor(private readonly session: Session) {}

  /**
   * Create an anonymous project with trial credits. The client uses the new key from then on unless an
   * `apiKey` option or INFRAI_API_KEY gives one. Unlike the Python SDK this writes no credentials file:
   * store `api_key` yourself. Never retried once the server may have seen it (that would open a second
   * account); only a connection that was never made, or a 429, is retried.
   */
  async activate(): Promise<Activation> {
    const activation = await this.session.json<Activation>({
      method: "POST",
      path: "/v1/accounts/activate",
      authenticated: false,
      repeatable: false,
    });
    this.session.activatedKey = activation.api_key;
    return activation;
  }

  /** The project's balance: `balance_usd`, `held_usd` (held by running jobs), `available_usd`. */
  retrieve(): Promise<Account> {
    return this.session.json<Account>({ method: "GET", path: "/v1/account", repeatable: true });
  }
}
