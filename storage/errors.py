"""Storage failures, translated once here from OS and boto errors.

The ``rehost`` activity turns a ``StorageError`` into ``ApplicationError(type="storage_error")`` and uses
``retryable`` to decide whether Temporal should try again.
"""

from __future__ import annotations

import errno

from core.errors import ErrorCode

# OS errors that may clear up on a later attempt (disk full, I/O hiccup); the rest are permanent.
_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR})


class StorageError(Exception):
    """Storage could not do what was asked. ``retryable`` is True for transient failures (5xx, network)."""

    code = ErrorCode.STORAGE_ERROR

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    @classmethod
    def from_os_error(cls, message: str, exc: OSError) -> StorageError:
        return cls(f"{message}: {exc}", retryable=exc.errno in _TRANSIENT_ERRNOS)


class InvalidObjectKeyError(StorageError, ValueError):
    """The key could escape the storage root or is not one we accept (see ``storage.keys``)."""


class ObjectNotFoundError(StorageError, LookupError):
    """There is no object under the key."""
