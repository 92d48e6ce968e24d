"""A download written atomically: nobody ever sees half a video at the destination path."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO

from infrai.errors import DownloadIntegrityError


class MediaFile:
    """Bytes go to a hidden temporary file beside ``destination`` and are hashed as they arrive.

    ``commit`` checks the size and sha256 the job reported (when it reported them), then renames the file
    into place, which is atomic on one file system; ``abort`` removes the temporary file.
    """

    def __init__(
        self, destination: Path, *, expected_size: int | None = None, expected_sha256: str | None = None
    ) -> None:
        self.destination = destination
        self.expected_size = expected_size
        self.expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        self.size = 0
        self._digest = hashlib.sha256()
        self._temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(6)}.part")
        self._handle: BinaryIO | None = None

    def open(self) -> None:
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self._temporary.open("xb")

    def __enter__(self) -> MediaFile:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def write(self, chunk: bytes) -> None:
        assert self._handle is not None, "open() first"
        self._handle.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def commit(self) -> Path:
        assert self._handle is not None, "open() first"
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._verify()
            os.replace(self._temporary, self.destination)
        except BaseException:
            self.abort()
            raise
        return self.destination

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self._temporary.unlink()

    def _verify(self) -> None:
        if self.expected_size is not None and self.size != self.expected_size:
            raise DownloadIntegrityError(
                f"downloaded {self.size} bytes but the job reported {self.expected_size}",
                code="download_size_mismatch",
            )
        if self.expected_sha256 is not None and self._digest.hexdigest() != self.expected_sha256:
            raise DownloadIntegrityError(
                f"downloaded sha256 {self._digest.hexdigest()} but the job reported {self.expected_sha256}",
                code="download_checksum_mismatch",
            )
