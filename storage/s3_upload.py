"""Streaming an object into S3: one PUT when small, otherwise a pipelined multipart upload.

boto3 is synchronous, so parts are uploaded in the storage's thread pool while the event loop keeps
reading the next part from the stream. At most ``parts_in_flight`` parts are uploading and one more is
being filled, so memory stays near ``(parts_in_flight + 1) * part_size`` whatever the object size.

The object appears only on CompleteMultipartUpload. Any failure or cancellation first lets the parts in
flight finish (an UploadPart landing after the abort would leave an orphan part) and then aborts the
upload, so nothing is left behind and no storage is billed for stray parts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Final

from storage.base import StoredObject
from storage.digest import Digest
from storage.errors import StorageError
from storage.s3_client import translated_s3_errors
from storage.s3_parts import Piece, parts_length
from storage.threads import run_to_completion, settle

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PARTS = 10_000
SHA256_TAG = "sha256"
# As boto3's own transfer manager does: S3 verifies every part's CRC32 on arrival and keeps a composite
# checksum, instead of computing a full-object CRC64NVME over the whole object at completion.
PART_CHECKSUM_ALGORITHM: Final = "CRC32"


class PipelinedUpload:
    """One object's upload. Use once: ``await PipelinedUpload(...).run(parts, digest)``."""

    def __init__(
        self,
        client: S3Client,
        executor: Executor,
        bucket: str,
        key: str,
        content_type: str,
        *,
        part_bytes: int,
        parts_in_flight: int,
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"S3 parts must be at least {MIN_PART_BYTES} bytes, got {part_bytes}")
        self._client = client
        self._executor = executor
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_bytes = part_bytes
        self._parts_in_flight = max(1, parts_in_flight)
        self._upload_id: str | None = None
        self._in_flight: list[asyncio.Future[CompletedPartTypeDef]] = []
        self._completed: list[CompletedPartTypeDef] = []
        self._next_part_number = 1
        self._finished = False  # completed (the object exists) or aborted: nothing left to clean up

    async def run(self, parts: AsyncIterable[list[Piece]], digest: Digest) -> StoredObject:
        """Upload what ``parts`` yields (see ``storage.s3_parts``); ``digest`` is complete once it ends."""
        try:
            last: list[Piece] = []
            async for pieces in parts:
                if parts_length(pieces) == self._part_bytes:
                    await self._send_part(pieces)
                else:
                    last = pieces  # the short part is always the final one
            stored = StoredObject(self._key, digest.size, digest.hexdigest(), self._content_type)
            if self._upload_id is None:
                await run_to_completion(self._executor, self._put_whole, last, stored.sha256)
                return stored
            if last:
                await self._send_part(last)
            await self._complete(stored.sha256)
            return stored
        except BaseException:
            await self._abort()
            raise

    async def _send_part(self, pieces: list[Piece]) -> None:
        # Wait for a free slot first: bounds memory to the parts in flight plus the one just read.
        while len(self._in_flight) >= self._parts_in_flight:
            await self._collect_oldest()
        if self._upload_id is None:
            await run_to_completion(self._executor, self._create_upload)
        part_number = self._next_part_number
        if part_number > MAX_PARTS:
            raise StorageError(f"{self._key!r} needs over {MAX_PARTS} parts: raise INFRAI_S3_PART_SIZE_MB")
        self._next_part_number += 1
        loop = asyncio.get_running_loop()
        self._in_flight.append(loop.run_in_executor(self._executor, self._upload_part, part_number, pieces))

    async def _collect_oldest(self) -> None:
        oldest = self._in_flight[0]
        await settle([oldest])
        self._in_flight.pop(0)
        self._completed.append(oldest.result())  # re-raises the part's failure

    async def _complete(self, sha256: str) -> None:
        while self._in_flight:
            await self._collect_oldest()
        await run_to_completion(self._executor, self._complete_upload, sha256)

    async def _abort(self) -> None:
        try:
            await settle(self._in_flight)
            for part in self._in_flight:
                part.exception()  # collected so asyncio does not log it as never retrieved
        finally:
            if self._upload_id is not None and not self._finished:
                await run_to_completion(self._executor, self._abort_upload)

    # Blocking steps, run in the executor.

    def _put_whole(self, pieces: list[Piece], sha256: str) -> None:
        with translated_s3_errors(f"cannot store {self._key!r}"):
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=_joined(pieces),
                ChecksumAlgorithm=PART_CHECKSUM_ALGORITHM,
                ContentType=self._content_type,
                Tagging=f"{SHA256_TAG}={sha256}",
            )

    def _create_upload(self) -> None:
        # The id is recorded here, in the thread, so that a cancellation arriving meanwhile still finds
        # it and aborts the upload.
        with translated_s3_errors(f"cannot start the upload of {self._key!r}"):
            response = self._client.create_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                ContentType=self._content_type,
                ChecksumAlgorithm=PART_CHECKSUM_ALGORITHM,
            )
        self._upload_id = response["UploadId"]

    def _upload_part(self, part_number: int, pieces: list[Piece]) -> CompletedPartTypeDef:
        body = _joined(pieces)
        pieces.clear()  # the joined copy replaces the pieces: free them now
        assert self._upload_id is not None
        with translated_s3_errors(f"cannot upload part {part_number} of {self._key!r}"):
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=part_number,
                Body=body,
                ChecksumAlgorithm=PART_CHECKSUM_ALGORITHM,
            )
        part: CompletedPartTypeDef = {"PartNumber": part_number, "ETag": response["ETag"]}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        return part

    def _complete_upload(self, sha256: str) -> None:
        assert self._upload_id is not None
        with translated_s3_errors(f"cannot complete the upload of {self._key!r}"):
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": sorted(self._completed, key=lambda part: part["PartNumber"])},
            )
        self._finished = True
        # The digest is only known at the end, after CreateMultipartUpload fixed the metadata, so it goes
        # into a tag. The object is complete either way; a missing tag only makes head() report "".
        try:
            with translated_s3_errors(f"cannot tag {self._key!r}"):
                self._client.put_object_tagging(
                    Bucket=self._bucket,
                    Key=self._key,
                    Tagging={"TagSet": [{"Key": SHA256_TAG, "Value": sha256}]},
                )
        except StorageError as exc:
            logger.warning("stored %s but could not record its sha256: %s", self._key, exc)

    def _abort_upload(self) -> None:
        assert self._upload_id is not None
        try:
            with translated_s3_errors(f"cannot abort the upload of {self._key!r}"):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
                )
            self._finished = True
        except StorageError as exc:
            # The original failure matters more; a bucket lifecycle rule is the backstop for this one.
            logger.error("multipart upload %s of %s may be left behind: %s", self._upload_id, self._key, exc)


def _joined(pieces: list[Piece]) -> bytes:
    """The pieces as one bytes object; a part read whole from a file is passed on without a copy."""
    if len(pieces) == 1 and isinstance(pieces[0], bytes):
        return pieces[0]
    return b"".join(pieces)
