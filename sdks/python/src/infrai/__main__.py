"""``python -m infrai`` runs the CLI."""

import sys

from infrai.cli import main

sys.exit(main())
