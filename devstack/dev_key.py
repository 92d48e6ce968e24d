"""The embedded stack's development API key: made once, kept (0600) in the data folder.

The API turns it into an ordinary project row at start (``AccountStore.ensure_dev_project``); the file
holds the raw key only because the launcher must print it for the developer.
"""

from __future__ import annotations

import os
from pathlib import Path

from accounts.keys import new_api_key, parse_api_key


def load_or_create_dev_key(data_dir: Path) -> str:
    path = data_dir / "dev-api-key"
    if path.exists():
        key = path.read_text().strip()
        if parse_api_key(key) is not None:
            return key
    key = new_api_key()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    os.replace(tmp, path)
    return key
