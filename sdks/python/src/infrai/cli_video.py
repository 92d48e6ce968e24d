"""The ``infrai video`` commands (``cli.py`` registers them).

    infrai video generate PROMPT [--resolution 1080p] [--wait] [--out clip.mp4] [--deadline 5m]
    infrai video status ID | cancel ID | wait ID [--out clip.mp4] | download ID PATH

``generate --wait`` and ``wait`` show a progress bar on stderr and exit with the job's final state.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from infrai.cli_output import EXIT_FAILED, EXIT_OK, Output, describe_job, exit_code_for
from infrai.client import Infrai
from infrai.models import CancelResult, VideoJob
from infrai.progress import ProgressBar
from infrai.video import DEFAULT_WAIT_TIMEOUT


def _wait_and_save(client: Infrai, job: VideoJob, args: argparse.Namespace, out: Output) -> int:
    """Shared end of ``generate --wait`` and ``wait``: progress bar, final job, optional download."""
    extra: dict[str, Any] = {}
    if not job.is_final:
        bar = ProgressBar(out.stderr) if not args.quiet else None
        try:
            job = client.video.wait(job.job_id, timeout=args.timeout, on_poll=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.finish()
    if job.state == "succeeded" and args.out:
        saved = client.video.download(job.job_id, args.out)
        extra["downloaded_to"] = str(saved)
        out.say(f"saved {saved}")
    out.result(job, describe_job(job), extra)
    return exit_code_for(job)


_DURATION = re.compile(r"(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?")


def deadline_seconds(text: str) -> int:
    """``--deadline``: seconds, or a duration as the ``Cancel-After`` header takes it (``90s``, ``1h30m``)."""
    if text.isdigit():
        return int(text)
    parts = _DURATION.fullmatch(text)
    if not text or parts is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 5m or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def cmd_generate(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    job = client.video.generate(
        args.prompt,
        reference_image_url=args.reference_image,
        duration_seconds=args.duration,
        aspect=args.aspect,
        resolution=args.resolution,
        prefer=args.prefer,
        model=args.model,
        vendor=args.vendor,
        idempotency_key=args.idempotency_key,
        deadline_seconds=args.deadline,
    )
    if not (args.wait or args.out):
        out.result(job, describe_job(job))
        return exit_code_for(job)
    out.say(f"started {job.job_id}")
    return _wait_and_save(client, job, args, out)


def cmd_status(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    job = client.video.status(args.id)
    out.result(job, describe_job(job))
    return exit_code_for(job)


def cmd_wait(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    return _wait_and_save(client, client.video.status(args.id), args, out)


def cmd_cancel(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    result: CancelResult = client.video.cancel(args.id)
    verdict = "cancellation requested" if result.ok else "not cancelled"
    out.result(result, f"job {result.job_id}: {verdict} (state {result.state})")
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_download(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    saved = client.video.download(args.id, args.path)
    if out.as_json:
        print(json.dumps({"job_id": args.id, "downloaded_to": str(saved)}), file=out.stdout)
    else:
        out.say(f"saved {saved}")
    return EXIT_OK


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="save the MP4 here when the job succeeds (implies --wait)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_WAIT_TIMEOUT, help="seconds to wait")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")


def add_video_commands(commands: Any, shared: argparse.ArgumentParser) -> None:
    """Register ``video`` and its subcommands on the CLI's subcommands."""
    video = commands.add_parser("video", help="generate and manage video jobs")
    video_commands = video.add_subparsers(dest="video_command", required=True, metavar="COMMAND")
    generate = video_commands.add_parser("generate", parents=[shared], help="start a video job")
    generate.add_argument("prompt")
    generate.add_argument("--resolution", choices=["720p", "1080p", "4k"], default="720p")
    generate.add_argument("--aspect", choices=["16:9", "9:16", "1:1"])
    generate.add_argument("--duration", type=int, metavar="SECONDS")
    generate.add_argument("--prefer", choices=["balanced", "cheapest", "smartest"], default="balanced")
    generate.add_argument("--model")
    generate.add_argument("--vendor")
    generate.add_argument("--reference-image", metavar="URL")
    generate.add_argument("--idempotency-key")
    generate.add_argument(
        "--deadline",
        type=deadline_seconds,
        metavar="DURATION",
        help="cancel the job if not finished by then: 90s, 5m, 1h30m or seconds (5 s to 24 h)",
    )
    generate.add_argument("--wait", action="store_true", help="wait for the job, showing progress")
    _add_wait_options(generate)
    generate.set_defaults(run=cmd_generate)

    for name, run, help_text in (
        ("status", cmd_status, "show a job"),
        ("cancel", cmd_cancel, "cancel a job"),
        ("wait", cmd_wait, "wait for a job to finish, showing progress"),
    ):
        sub = video_commands.add_parser(name, parents=[shared], help=help_text)
        sub.add_argument("id", metavar="ID")
        if name == "wait":
            _add_wait_options(sub)
        sub.set_defaults(run=run)
    download = video_commands.add_parser("download", parents=[shared], help="save a job's MP4")
    download.add_argument("id", metavar="ID")
    download.add_argument("path", type=Path, metavar="PATH")
    download.set_defaults(run=cmd_download)
