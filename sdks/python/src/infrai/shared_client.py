"""The module-level ``ai`` and ``infra``: one default ``Infrai`` client, built on first use.

Importing ``infrai`` opens no connection and reads no file; the client is made (from ``INFRAI_API_KEY``,
``INFRAI_BASE_URL`` and the credentials file) the first time ``ai`` or ``infra`` is used.
"""

from __future__ import annotations

import threading

from infrai.accounts import Accounts
from infrai.client import Infrai
from infrai.models import Account, Activation
from infrai.video import Video
from infrai.webhooks import Webhooks

_lock = threading.Lock()
_client: Infrai | None = None


def default_client() -> Infrai:
    global _client
    with _lock:
        if _client is None:
            _client = Infrai()
        return _client


def set_default_client(client: Infrai | None) -> None:
    """Use ``client`` behind ``ai`` and ``infra`` (None: build a fresh one from the environment next time)."""
    global _client
    with _lock:
        _client = client


class AI:
    """``ai.video.generate(...)``, ``ai.video.status(id=...)``, ``ai.account.usage(...)``,
    ``ai.webhooks.deliveries(...)``, ... on the default client."""

    @property
    def video(self) -> Video:
        return default_client().video

    @property
    def account(self) -> Accounts:
        return default_client().accounts

    @property
    def webhooks(self) -> Webhooks:
        return default_client().webhooks


class Infra:
    """``infra.activate()`` and ``infra.account()`` on the default client."""

    def activate(self, *, force: bool = False) -> Activation:
        return default_client().accounts.activate(force=force)

    def account(self) -> Account:
        return default_client().accounts.retrieve()


ai = AI()
infra = Infra()
