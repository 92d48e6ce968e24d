/** `client.accounts`: an anonymous account with trial credits, the balance, budgets and usage. */

import type { Session } from "./session.js";
import type { Account, Activation, Budget, BudgetCaps, Budgets, UsageGroupBy, UsageReport } from "./types.js";

export interface UsageOptions {
  /** First UTC day, `YYYY-MM-DD` (default: the 1st of this month). */
  from?: string;
  /** Last UTC day, included (default: today). */
  to?: string;
  groupBy?: UsageGroupBy;
}

function usagePath(options: UsageOptions, csv: boolean): string {
  const query = new URLSearchParams();
  if (options.from) query.set("from", options.from);
  if (options.to) query.set("to", options.to);
  query.set("group_by", options.groupBy ?? "day");
  if (csv) query.set("format", "csv");
  return `/v1/account/usage?${query.toString()}`;
}

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

  /** The project's budget and each active key's, with today's and this month's spend. */
  budgets(): Promise<Budgets> {
    return this.session.json<Budgets>({ method: "GET", path: "/v1/account/budgets", repeatable: true });
  }

  /**
   * Replace the project's caps, or with `keyId` one key's; a cap left out is removed. A generate past a
   * spend cap then throws `BudgetExceededError` (402), past a concurrency cap `ConcurrencyLimitError` (429).
   */
  setBudget(caps: BudgetCaps, options: { keyId?: string } = {}): Promise<Budget> {
    const path =
      options.keyId === undefined
        ? "/v1/account/budgets"
        : `/v1/account/keys/${encodeURIComponent(options.keyId)}/budget`;
    return this.session.json<Budget>({ method: "PUT", path, body: caps, repeatable: true });
  }

  /** What the project was charged, grouped by UTC day, vendor, model or key. */
  usage(options: UsageOptions = {}): Promise<UsageReport> {
    return this.session.json<UsageReport>({
      method: "GET",
      path: usagePath(options, false),
      repeatable: true,
    });
  }

  /** The same report as CSV text (a header line, then one line per group). */
  usageCsv(options: UsageOptions = {}): Promise<string> {
    return this.session.text({ method: "GET", path: usagePath(options, true), repeatable: true });
  }
}
