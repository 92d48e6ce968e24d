"""The ``infrai usage`` and ``infrai budget`` commands (``cli.py`` registers them).

    infrai usage [--from 2026-12-01] [--to 2026-12-07] [--group-by day|vendor|model|key] [--csv]
    infrai budget [--key KEY_ID] [--daily USD] [--monthly USD] [--concurrency N] [--clear]

``usage`` prints a table (``--csv``: the server's CSV, ``--json``: the report). ``budget`` with no cap
option shows every budget; with one it replaces the project's (or ``--key``'s) caps: a cap not given is
removed, ``--clear`` removes them all.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infrai.client import Infrai
from infrai.models import Budget, Usage

if TYPE_CHECKING:
    from infrai.cli import Output

_GROUP_COLUMNS = {"day": ("day",), "vendor": ("vendor",), "model": ("vendor", "model"), "key": ("key_id",)}


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> str:
    """Columns padded to their widest cell; those from ``numeric_from`` on are right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if i >= numeric_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in [header, *rows])


def usage_table(usage: Usage) -> str:
    columns = _GROUP_COLUMNS.get(usage.group_by, ("group",))
    rows = []
    for entry in usage.data:
        fields = entry.to_dict()
        group = ["-" if fields.get(column) is None else str(fields[column]) for column in columns]
        rows.append([*group, str(entry.jobs), str(entry.charged_usd)])
    padding = [""] * (len(columns) - 1)
    rows.append(["total", *padding, str(usage.total.jobs), str(usage.total.charged_usd)])
    title = f"usage {usage.get('from')} .. {usage.get('to')} by {usage.group_by}"
    return title + "\n" + format_table([*columns, "jobs", "charged_usd"], rows, numeric_from=len(columns))


def budget_table(budgets: Sequence[Budget]) -> str:
    def cap(value: Any) -> str:
        return "-" if value is None else str(value)

    rows = [
        [
            "project" if budget.scope == "project" else f"key {budget.key_id}",
            cap(budget.daily_usd),
            cap(budget.monthly_usd),
            cap(budget.max_concurrent_jobs),
            str(budget.spent_today_usd),
            str(budget.spent_this_month_usd),
            str(budget.running_jobs),
        ]
        for budget in budgets
    ]
    header = ["budget", "daily", "monthly", "concurrent", "spent_today", "spent_month", "running"]
    return format_table(header, rows, numeric_from=1)


def cmd_usage(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    period = {"start": args.start, "end": args.end, "group_by": args.group_by}
    if args.csv:
        print(client.accounts.usage_csv(**period), end="", file=out.stdout)
        return 0
    usage = client.accounts.usage(**period)
    out.result(usage, usage_table(usage))
    return 0


def cmd_budget(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    if args.clear or any(value is not None for value in (args.daily, args.monthly, args.concurrency)):
        budget = client.accounts.set_budget(
            daily_usd=args.daily,
            monthly_usd=args.monthly,
            max_concurrent_jobs=args.concurrency,
            key_id=args.key,
        )
        out.result(budget, budget_table([budget]))
        return 0
    budgets = client.accounts.budgets()
    out.result(budgets, budget_table([budgets.project, *budgets.key_budgets]))
    return 0


def add_account_commands(commands: Any, shared: argparse.ArgumentParser) -> None:
    """Register ``usage`` and ``budget`` on the CLI's subcommands."""
    usage = commands.add_parser("usage", parents=[shared], help="what the project was charged, as a table")
    usage.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first UTC day (default: the 1st)")
    usage.add_argument(
        "--to", dest="end", metavar="YYYY-MM-DD", help="last UTC day, included (default: today)"
    )
    usage.add_argument("--group-by", choices=list(_GROUP_COLUMNS), default="day")
    usage.add_argument("--csv", action="store_true", help="print the server's CSV instead of a table")
    usage.set_defaults(run=cmd_usage)

    budget = commands.add_parser("budget", parents=[shared], help="show or set spend and concurrency caps")
    budget.add_argument("--key", metavar="KEY_ID", help="set this key's caps instead of the project's")
    budget.add_argument("--daily", metavar="USD", help="spend cap per UTC day")
    budget.add_argument("--monthly", metavar="USD", help="spend cap per UTC month")
    budget.add_argument("--concurrency", type=int, metavar="N", help="jobs running at once")
    budget.add_argument("--clear", action="store_true", help="remove every cap (of the project or --key)")
    budget.set_defaults(run=cmd_budget)
