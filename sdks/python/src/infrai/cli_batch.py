"""``infrai batch FILE.jsonl``: one generate body per line, started as one batch (all or none).

    infrai batch prompts.jsonl [--wait] [--webhook-url URL] [--idempotency-key KEY] [--timeout S]

Exit codes as the other commands': 0 (started, or with ``--wait`` every item succeeded), 1 an item failed,
3 an item was cancelled (and none failed), 2 a line is not a JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrai.models import VideoBatch

if TYPE_CHECKING:
    from infrai.cli import Output
    from infrai.client import Infrai

_EXIT_OK, _EXIT_FAILED, _EXIT_USAGE, _EXIT_CANCELLED = 0, 1, 2, 3


class BatchFileError(ValueError):
    pass


def read_items(path: Path) -> list[dict[str, Any]]:
    """The generate bodies of a JSON Lines file (blank lines skipped); ``BatchFileError`` names the line."""
    items: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise BatchFileError(f"{path}:{number}: not JSON ({error.msg})") from None
        if not isinstance(item, dict):
            raise BatchFileError(f"{path}:{number}: expected a JSON object (a generate body)")
        items.append(item)
    if not items:
        raise BatchFileError(f"{path}: no items")
    return items


def describe_batch(batch: VideoBatch) -> str:
    counts = ", ".join(f"{state} {n}" for state, n in batch.counts.to_dict().items() if n)
    lines = [f"batch {batch.batch_id}: {batch.state} ({batch.item_count} items: {counts})"]
    for job in batch.jobs:
        error = f"  {job.error.code}: {job.error.message}" if job.error else ""
        lines.append(f"  [{job.index}] {job.job_id} {job.state}{error}")
    return "\n".join(lines)


def exit_code_for_batch(batch: VideoBatch) -> int:
    if batch.counts.failed:
        return _EXIT_FAILED
    return _EXIT_CANCELLED if batch.counts.cancelled else _EXIT_OK


def cmd_batch(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    try:
        items = read_items(args.file)
    except (BatchFileError, OSError) as error:
        print(f"error: {error}", file=out.stderr)
        return _EXIT_USAGE
    batch: VideoBatch = client.video.generate_batch(
        items, webhook_url=args.webhook_url, idempotency_key=args.idempotency_key
    )
    if args.wait and not batch.is_final:
        out.say(f"started {batch.batch_id} ({batch.item_count} items); waiting")
        batch = client.video.wait_batch(batch.batch_id, timeout=args.timeout)
    out.result(batch, describe_batch(batch))
    return exit_code_for_batch(batch) if batch.is_final else _EXIT_OK


def add_batch_command(commands: Any, shared: argparse.ArgumentParser, default_timeout: float) -> None:
    batch = commands.add_parser("batch", parents=[shared], help="start one batch from a JSON Lines file")
    batch.add_argument("file", type=Path, metavar="FILE.jsonl", help="one generate body per line")
    batch.add_argument("--wait", action="store_true", help="wait until every item ended")
    batch.add_argument("--timeout", type=float, default=default_timeout, help="seconds to wait")
    batch.add_argument("--webhook-url", help="gets one signed batch.completed POST")
    batch.add_argument("--idempotency-key")
    batch.set_defaults(run=cmd_batch)
