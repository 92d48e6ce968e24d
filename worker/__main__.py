"""``python -m worker``: the worker process of the embedded stack and of the production image."""

from __future__ import annotations

from observability.logs import exit_without_teardown, run_process
from worker.runner import run_worker


def main() -> None:
    run_process("worker", run_worker)  # returns once the worker has stopped and flushed its spans
    exit_without_teardown()


if __name__ == "__main__":
    main()
