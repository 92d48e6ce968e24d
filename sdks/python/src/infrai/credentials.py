"""Where the SDK finds its API key and base URL, and the credentials file ``activate()`` writes.

Key: the ``api_key`` argument, then ``INFRAI_API_KEY``, then the credentials file. Base URL: the
``base_url`` argument, then ``INFRAI_BASE_URL``, then the embedded stack on 127.0.0.1:8000.

The file lives at ``$INFRAI_CONFIG_DIR/credentials`` (default ``~/.infrai/credentials``, ``~`` being
``$HOME``). It is written as INI with a ``[default]`` section, and JSON is read as well, so either can be
written by hand::

    [default]
    api_key = ifr_pk_proj_...
    project_id = proj_...
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import secrets
from pathlib import Path

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
SECTION = "default"


def resolve_base_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get("INFRAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def config_dir() -> Path:
    configured = os.environ.get("INFRAI_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".infrai"


def credentials_path() -> Path:
    return config_dir() / "credentials"


def read_credentials(path: Path) -> dict[str, str]:
    """The saved fields (``api_key``, ``project_id``, ...), or an empty dict when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        section = data.get(SECTION, data) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in section.items() if v is not None}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text, source=str(path))
    if not parser.has_section(SECTION):
        return {}
    return dict(parser.items(SECTION))


def write_credentials(path: Path, fields: dict[str, str]) -> None:
    """Replace the file atomically; it is created 0600 (and its folder 0700) because it holds a secret."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    parser[SECTION] = fields
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            parser.write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)  # O_CREAT's mode is filtered by the umask; this is not
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def resolve_api_key(explicit: str | None, path: Path) -> str | None:
    if explicit:
        return explicit
    from_env = os.environ.get("INFRAI_API_KEY")
    if from_env:
        return from_env
    return read_credentials(path).get("api_key") or None
