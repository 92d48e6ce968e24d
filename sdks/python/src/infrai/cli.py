"""The ``infrai`` command.

    infrai activate [--force]
    infrai account
    infrai usage [--from DAY] [--to DAY] [--group-by day|vendor|model|key] [--csv]
    infrai budget [--key KEY_ID] [--daily USD] [--monthly USD] [--concurrency N] [--clear]
    infrai models
    infrai video generate PROMPT [--resolution 1080p] [--wait] [--out clip.mp4]
    infrai video status ID | cancel ID | wait ID [--out clip.mp4] | download ID PATH
    infrai batch FILE.jsonl [--wait]      (one generate body per line; see ``infrai.cli_batch``)
    infrai webhooks failed | redeliver JOB_ID MESSAGE_ID          (see ``infrai.cli_webhooks``)

Progress goes to stderr; ``--json`` prints exactly one JSON document on stdout. Exit codes: 0 succeeded
(or still running, for commands that do not wait), 1 the job failed (or could not be cancelled), 2 usage,
3 the job was cancelled, 4 an API, auth or connection error, 5 gave up waiting, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from infrai.cli_account import add_account_commands
from infrai.cli_batch import add_batch_command
from infrai.cli_webhooks import add_webhook_commands
from infrai.client import Infrai
from infrai.errors import InfraiError, JobStateError, RateLimitError, TimeoutError
from infrai.model_table import format_models
from infrai.models import CancelResult, InfraiModel, VideoJob
from infrai.progress import ProgressBar
from infrai.version import __version__
from infrai.video import DEFAULT_WAIT_TIMEOUT

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3
EXIT_API_ERROR = 4
EXIT_WAIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

_EXIT_BY_STATE = {"failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED}


class Output:
    """With ``--json`` stdout carries only the JSON result; human-readable lines then go to stderr."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def say(self, message: str) -> None:
        print(message, file=self.stderr if self.as_json else self.stdout)

    def result(self, model: InfraiModel, human: str, extra: dict[str, Any] | None = None) -> None:
        if self.as_json:
            print(json.dumps({**model.to_dict(), **(extra or {})}, indent=2), file=self.stdout)
        else:
            print(human, file=self.stdout)

    def error(self, error: InfraiError) -> None:
        print(f"error: {error}", file=self.stderr)
        if error.request_id:
            print(f"request id: {error.request_id}", file=self.stderr)
        if self.as_json:
            fields = {"status": error.status, "code": error.code, "detail": error.detail}
            body = {**fields, "request_id": error.request_id, "problem": error.problem or None}
            print(json.dumps({"error": body}, indent=2), file=self.stdout)


def describe_job(job: VideoJob) -> str:
    lines = [f"job {job.job_id}: {job.state}" + (f" ({job.stage})" if job.stage and not job.is_final else "")]
    if job.vendor:
        lines.append(f"  vendor   {job.vendor} / {job.model or '?'}")
    if job.cost is not None:
        settled = f", settled ${job.cost.settled_usd}" if job.cost.settled_usd is not None else ""
        lines.append(f"  cost     estimated ${job.cost.estimated_usd}{settled}")
    if job.deadline_at is not None and not job.is_final:
        lines.append(f"  deadline {job.deadline_at.isoformat()}")
    if job.eta_seconds is not None and not job.is_final:
        queue = f", queue #{job.queue_position + 1}" if job.queue_position is not None else ""
        lines.append(f"  eta      {job.eta_seconds}s ({job.eta_source}){queue}, by {job.expected_finish_at}")
    for warning in job.warnings:
        lines.append(f"  warning  {warning.code}: {warning.message}")
    if job.error is not None:
        lines.append(f"  error    {job.error.code}: {job.error.message}")
    if job.video_url:
        lines.append(f"  video    {job.video_url}")
    return "\n".join(lines)


def exit_code_for(job: VideoJob) -> int:
    return _EXIT_BY_STATE.get(job.state, EXIT_OK)


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


def cmd_activate(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    activation = client.accounts.activate(force=args.force)
    where = client.config.credentials_path
    if activation.created:
        trial = activation.trial_credits_usd
        credits = f" with ${trial} trial credits" if trial is not None else ""
        human = f"activated project {activation.project_id}{credits}; key saved to {where}"
    else:
        human = f"already activated (project {activation.project_id}, {where}); --force makes a new account"
    out.result(activation, human)
    return EXIT_OK


def cmd_account(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    account = client.accounts.retrieve()
    human = f"project {account.project_id}: balance ${account.balance_usd}"
    if account.available_usd is not None:
        human += f", available ${account.available_usd} (held ${account.held_usd or 0})"
    out.result(account, human)
    return EXIT_OK


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


def cmd_models(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    models = client.video.models()
    out.result(models, format_models(models))
    return EXIT_OK


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


Command = Callable[[Infrai, argparse.Namespace, Output], int]


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="save the MP4 here when the job succeeds (implies --wait)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_WAIT_TIMEOUT, help="seconds to wait")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the subcommand; the copies on the subcommands default
    # to SUPPRESS so they do not overwrite a value given before it.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON on stdout")
    shared.add_argument("--api-key", default=argparse.SUPPRESS, help="else INFRAI_API_KEY or credentials")
    shared.add_argument("--base-url", default=argparse.SUPPRESS, help="else INFRAI_BASE_URL, 127.0.0.1:8000")

    parser = argparse.ArgumentParser(prog="infrai", description="Infrai Video from the command line.")
    parser.add_argument("--version", action="version", version=f"infrai {__version__}")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--api-key", help="API key (else INFRAI_API_KEY, else ~/.infrai/credentials)")
    parser.add_argument("--base-url", help="API base URL (else INFRAI_BASE_URL, else http://127.0.0.1:8000)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    activate = commands.add_parser("activate", parents=[shared], help="create an account with trial credits")
    activate.add_argument("--force", action="store_true", help="a new account even if credentials exist")
    activate.set_defaults(run=cmd_activate)
    commands.add_parser("account", parents=[shared], help="show the balance").set_defaults(run=cmd_account)
    add_account_commands(commands, shared)
    models = commands.add_parser("models", parents=[shared], help="list models: lifecycle, measured p50/p90")
    models.set_defaults(run=cmd_models)

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
    add_batch_command(commands, shared, DEFAULT_WAIT_TIMEOUT)
    add_webhook_commands(commands, shared)
    return parser


def rate_limit_hint(error: RateLimitError) -> str:
    """Which limit this key hit and when it may call again, in words (the SDK's retries are used up, or the
    wait was longer than it sleeps through)."""
    exhausted = [limit.policy for limit in error.rate_limits if limit.remaining == 0]
    which = f"its '{', '.join(exhausted)}' rate limit" if exhausted else "its rate limit"
    when = f"in {error.retry_after:.0f} s" if error.retry_after is not None else "later"
    return f"rate limited: this API key used up {which}; try again {when}"


def main(
    argv: Sequence[str] | None = None,
    *,
    client: Infrai | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the CLI and return its exit code. ``client`` replaces the one built from the options."""
    args = build_parser().parse_args(argv)  # exits 2 on a usage error
    out = Output(args.json, stdout or sys.stdout, stderr or sys.stderr)
    run: Command = args.run
    own_client = client is None
    active = client or Infrai(api_key=args.api_key, base_url=args.base_url)
    try:
        return run(active, args, out)
    except TimeoutError as error:
        out.error(error)
        if error.job is not None:
            hint = f"still {error.job.state}: follow it with `infrai video wait {error.job.job_id}`"
            print(hint, file=out.stderr)
        return EXIT_WAIT_TIMEOUT
    except JobStateError as error:
        out.error(error)
        return exit_code_for(error.job) if error.job.is_final else EXIT_API_ERROR
    except RateLimitError as error:
        out.error(error)
        print(rate_limit_hint(error), file=out.stderr)
        return EXIT_API_ERROR
    except InfraiError as error:
        out.error(error)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted; the job keeps running on the server", file=out.stderr)
        return EXIT_INTERRUPTED
    finally:
        if own_client:
            active.close()


if __name__ == "__main__":
    sys.exit(main())
