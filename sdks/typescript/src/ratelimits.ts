/**
 * The server's `RateLimit` header field (IETF draft-ietf-httpapi-ratelimit-headers, section 4), read.
 *
 * `RateLimit: "default";r=2999;t=42, "jobs";r=0;t=42` says, per quota policy, how many requests are left
 * (`r`) and in how many seconds the window ends (`t`). A malformed field or item is ignored, as the draft
 * requires; so is any parameter we do not know.
 */

/** One quota policy's service limit as the server last stated it. */
export interface RateLimit {
  policy: string;
  /** Requests left in the window (`r`). */
  remaining: number;
  /** Seconds until the window ends (`t`), when the server said. */
  reset: number | undefined;
}

// One list member: a quoted String or a Token naming the policy, then its ;key=value parameters.
const MEMBER = /^\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z*][A-Za-z0-9_.:%*/!#$&'+^`|~-]*))((?:;[^;,]*)*)\s*$/;
const PARAMETER = /;\s*([a-z*][a-z0-9_.*-]*)(?:=("(?:[^"\\]|\\.)*"|[^;]*))?/g;

/** The list's members: split on commas outside quoted strings. */
function members(value: string): string[] {
  const found: string[] = [];
  let start = 0;
  let quoted = false;
  let escaped = false;
  for (let index = 0; index < value.length; index += 1) {
    const char = value[index];
    if (escaped) escaped = false;
    else if (char === "\\" && quoted) escaped = true;
    else if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      found.push(value.slice(start, index));
      start = index + 1;
    }
  }
  found.push(value.slice(start));
  return found;
}

function nonNegative(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

function parseMember(member: string): RateLimit | undefined {
  const matched = MEMBER.exec(member);
  if (matched === null) return undefined;
  const parameters = new Map<string, string | undefined>();
  for (const [, key, value] of (matched[3] ?? "").matchAll(PARAMETER)) parameters.set(key!, value);
  const remaining = nonNegative(parameters.get("r"));
  if (remaining === undefined) return undefined; // `r` is required
  return { policy: matched[1] ?? matched[2]!, remaining, reset: nonNegative(parameters.get("t")) };
}

/** Every well-formed service limit item of a `RateLimit` field value (none for a missing field). */
export function parseRateLimit(value: string | null | undefined): RateLimit[] {
  if (value === null || value === undefined || value.trim() === "") return [];
  return members(value)
    .map(parseMember)
    .filter((limit): limit is RateLimit => limit !== undefined);
}

/**
 * Seconds until every exhausted policy (`r=0`) has a new window: the wait a 429 calls for when the server
 * sent no `Retry-After` (which, when sent, takes precedence).
 */
export function exhaustedReset(limits: readonly RateLimit[]): number | undefined {
  const resets = limits
    .filter((limit) => limit.remaining === 0 && limit.reset !== undefined)
    .map((limit) => limit.reset!);
  return resets.length > 0 ? Math.max(...resets) : undefined;
}
