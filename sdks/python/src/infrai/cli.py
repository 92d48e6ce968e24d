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
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from infrai.cli_account import add_account_commands
from infrai.cli_batch import add_batch_command

# Split out by concern, and importable from here as before: how commands report, and the video commands.
from infrai.cli_output import EXIT_API_ERROR as EXIT_API_ERROR
from infrai.cli_output import EXIT_CANCELLED as EXIT_CANCELLED
from infrai.cli_output import EXIT_FAILED as EXIT_FAILED
from infrai.cli_output import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from infrai.cli_output import EXIT_OK as EXIT_OK
from infrai.cli_output import EXIT_USAGE as EXIT_USAGE
from infrai.cli_output import EXIT_WAIT_TIMEOUT as EXIT_WAIT_TIMEOUT
from infrai.cli_output import Output as Output
from infrai.cli_output import describe_job as describe_job
from infrai.cli_output import exit_code_for as exit_code_for
from infrai.cli_video import add_video_commands
from infrai.cli_video import cmd_cancel as cmd_cancel
from infrai.cli_video import cmd_download as cmd_download
from infrai.cli_video import cmd_generate as cmd_generate
from infrai.cli_video import cmd_status as cmd_status
from infrai.cli_video import cmd_wait as cmd_wait
from infrai.cli_video import deadline_seconds as deadline_seconds
from infrai.cli_webhooks import add_webhook_commands
from infrai.client import Infrai
from infrai.errors import InfraiError, JobStateError, RateLimitError, TimeoutError
from infrai.model_table import format_models
from infrai.version import __version__
from infrai.video import DEFAULT_WAIT_TIMEOUT


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


def cmd_models(client: Infrai, args: argparse.Namespace, out: Output) -> int:
    models = client.video.models()
    out.result(models, format_models(models))
    return EXIT_OK


Command = Callable[[Infrai, argparse.Namespace, Output], int]


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

    add_video_commands(commands, shared)
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
