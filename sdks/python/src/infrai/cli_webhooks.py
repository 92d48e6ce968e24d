"""``infrai webhooks``: the project's failed webhook messages as a table, and sending one again.

    infrai webhooks failed [--limit 100]
    infrai webhooks redeliver JOB_ID MESSAGE_ID [--idempotency-key KEY]

``redeliver`` exits 0 when the receiver took the message, 1 when it did not (or had not answered yet).
"""

from __future__ import annotations

import argparse
import itertools
import json
from typing import TYPE_CHECKING, Any

from infrai.client import Infrai
from infrai.models import WebhookMessageStatus

if TYPE_CHECKING:
    from infrai.cli import Output

EXIT_OK = 0  # the same codes as ``infrai.cli``
EXIT_NOT_DELIVERED = 1

_COLUMNS = ("JOB", "MESSAGE", "EVENT", "ATTEMPTS", "LAST", "LAST ATTEMPT")


def _row(message: WebhookMessageStatus) -> tuple[str, ...]:
    last = message.last_outcome + (f" {message.last_status_code}" if message.last_status_code else "")
    when = message.last_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if message.last_attempt_at else "-"
    return (message.job_id, message.message_id, message.event, str(message.attempts), last, when)


def failed_table(messages: list[WebhookMessageStatus]) -> str:
    """The messages as an aligned text table, one per line, under a header."""
    rows = [_COLUMNS, *(_row(message) for message in messages)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def cmd_failed(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    found = client.webhooks.deliveries(outcome="failed", limit=min(args.limit, 100))
    shown = list(itertools.islice(found, args.limit + 1))
    more, shown = len(shown) > args.limit, shown[: args.limit]
    if out.as_json:
        data: dict[str, Any] = {"data": [message.to_dict() for message in shown], "has_more": more}
        print(json.dumps(data, indent=2), file=out.stdout)
        return EXIT_OK
    if not shown:
        out.say("no failed webhook messages")
        return EXIT_OK
    out.say(failed_table(shown))
    if more:
        out.say(f"(the first {args.limit}; --limit shows more)")
    hint = "send one again with `infrai webhooks redeliver JOB_ID MESSAGE_ID`"
    print(hint, file=out.stderr)
    return EXIT_OK


def cmd_redeliver(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    result = client.webhooks.redeliver(
        job_id=args.job_id, message_id=args.message_id, idempotency_key=args.idempotency_key
    )
    answer = f" ({result.status_code})" if result.status_code else ""
    error = f": {result.error}" if result.error else ""
    replayed = " [an earlier redelivery with this key]" if result.replayed else ""
    out.result(result, f"{result.message_id}: {result.outcome}{answer}{error}{replayed}")
    return EXIT_OK if result.delivered else EXIT_NOT_DELIVERED


def add_webhook_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], shared: argparse.ArgumentParser
) -> None:
    webhooks = commands.add_parser("webhooks", help="failed webhook messages, and sending them again")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    failed = webhook_commands.add_parser(
        "failed", parents=[shared], help="the project's webhook messages not delivered, newest first"
    )
    failed.add_argument("--limit", type=int, default=100, help="show at most this many (default 100)")
    failed.set_defaults(run=cmd_failed)
    redeliver = webhook_commands.add_parser("redeliver", parents=[shared], help="send a message again")
    redeliver.add_argument("job_id", metavar="JOB_ID")
    redeliver.add_argument("message_id", metavar="MESSAGE_ID")
    redeliver.add_argument("--idempotency-key", help="repeat a redelivery without sending it twice")
    redeliver.set_defaults(run=cmd_redeliver)
