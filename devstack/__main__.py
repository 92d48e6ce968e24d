"""``python -m devstack [up]``: run the embedded stack in the foreground."""

from __future__ import annotations

import argparse
import sys

from core.settings import get_settings
from devstack.stack import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", nargs="?", default="up", choices=["up"], help="start the stack (default)")
    parser.parse_args()
    sys.exit(run(get_settings()))


if __name__ == "__main__":
    main()
