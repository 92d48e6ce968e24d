"""S3 media storage (AWS, MinIO, moto): pipelined multipart writes, ranged reads, presigned URLs."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from botocore.exceptions import ClientError

from core.settings import Settings
from storage.base import ListedObject, StoredObject
from storage.digest import Digest, StreamDigest
from storage.errors import ObjectNotFoundError
from storage.keys import validate_key
from storage.s3_client import build_s3_client, is_not_found, translated_s3_errors
from storage.s3_parts import Piece, file_parts, stream_parts
from storage.s3_reader import READ_BLOCK_BYTES, RangeReader
from storage.s3_upload import SHA256_TAG, PipelinedUpload
from storage.threads import run_to_completion

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

MAX_PRESIGN_TTL_SECONDS = 7 * 24 * 3600  # SigV4's limit
DEFAULT_THREADS = 16
DEFAULT_PARTS_IN_FLIGHT = 3
# What BufferedReader asks of the raw reader per call; RangeReader's blocks do the real read-ahead.
READER_BUFFER_BYTES = 64 * 1024


class S3MediaStorage:
    """``MediaStorage`` on one S3 bucket.

    ``client`` is shared by every thread of ``threads`` (boto3 clients are thread-safe). ``presign_client``
    signs URLs for the endpoint clients reach, when that differs from the one we talk to (e.g. MinIO as
    ``http://minio:9000`` inside compose, ``http://localhost:9000`` outside).
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        part_bytes: int = 8 * 1024 * 1024,
        parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT,
        threads: int = DEFAULT_THREADS,
        presign_client: S3Client | None = None,
        read_block_bytes: int = READ_BLOCK_BYTES,
        region: str = "us-east-1",
    ) -> None:
        self.client = client
        self.bucket = bucket
        self._presign_client = presign_client or client
        self._part_bytes = part_bytes
        # A stream of whole parts is uploaded without joining its pieces into each part (a copy).
        self.stream_chunk_bytes: int | None = part_bytes
        self._parts_in_flight = parts_in_flight
        self._read_block_bytes = read_block_bytes
        self._region = region
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="infrai-s3")

    @classmethod
    def from_settings(cls, settings: Settings, *, threads: int = DEFAULT_THREADS) -> S3MediaStorage:
        # One connection per thread, plus a few for calls made from other threads (open_reader).
        connections = threads + 4
        client = build_s3_client(
            settings, endpoint_url=settings.s3_endpoint_url, max_pool_connections=connections
        )
        presign_client = None
        if settings.s3_public_endpoint_url and settings.s3_public_endpoint_url != settings.s3_endpoint_url:
            presign_client = build_s3_client(
                settings, endpoint_url=settings.s3_public_endpoint_url, max_pool_connections=1
            )
        return cls(
            client,
            settings.s3_bucket,
            part_bytes=settings.s3_part_size_mb * 1024 * 1024,
            threads=threads,
            presign_client=presign_client,
            region=settings.s3_region,
        )

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (for the dev stack and tests; never implied)."""
        await run_to_completion(self._executor, self._ensure_bucket)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, hashed: Digest | None = None
    ) -> StoredObject:
        digest = hashed if hashed is not None else Digest()
        async with StreamDigest(digest, hashed_by_caller=hashed is not None) as hashing:
            parts = stream_parts(chunks, self._part_bytes, hashing)
            return await self._upload(key, parts, digest, content_type)

    async def put_file(self, key: str, path: Path, content_type: str) -> StoredObject:
        digest = Digest()
        return await self._upload(key, file_parts(path, self._part_bytes, digest), digest, content_type)

    async def _upload(
        self, key: str, parts: AsyncGenerator[list[Piece], None], digest: Digest, content_type: str
    ) -> StoredObject:
        upload = PipelinedUpload(
            self.client,
            self._executor,
            self.bucket,
            validate_key(key),
            content_type,
            part_bytes=self._part_bytes,
            parts_in_flight=self._parts_in_flight,
        )
        async with aclosing(parts):  # closes the file or stream source even when the upload fails
            return await upload.run(parts, digest)

    async def discard_incomplete(self, key: str) -> None:
        validate_key(key)
        await run_to_completion(self._executor, self._abort_uploads, key)

    def open_reader(self, key: str) -> BinaryIO:
        validate_key(key)
        with translated_s3_errors(f"cannot open {key!r}"):
            try:
                response = self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if is_not_found(exc):
                    raise ObjectNotFoundError(f"no object {key!r}") from exc
                raise
        etag = response["ETag"]

        def fetch(start: int, end: int) -> bytes:
            # If-Match: a reader never mixes bytes of two versions when the key is overwritten meanwhile.
            with translated_s3_errors(f"cannot read {key!r}"):
                got = self.client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=etag
                )
                return got["Body"].read()

        raw = RangeReader(fetch, response["ContentLength"], name=key, block_bytes=self._read_block_bytes)
        return io.BufferedReader(raw, buffer_size=READER_BUFFER_BYTES)

    async def head(self, key: str) -> StoredObject | None:
        validate_key(key)
        return await run_to_completion(self._executor, self._head, key)

    async def delete(self, key: str) -> None:
        validate_key(key)
        await run_to_completion(self._executor, self._delete, key)

    async def list_objects(self, prefix: str) -> AsyncIterator[ListedObject]:
        # One page (up to 1000 keys) per thread hop, in key order.
        token: str | None = None
        while True:
            objects, token = await run_to_completion(self._executor, self._list_page, prefix, token)
            for listed in objects:
                yield listed
            if token is None:
                return

    def signed_url(self, key: str, ttl_seconds: int) -> str:
        validate_key(key)
        if not 0 < ttl_seconds <= MAX_PRESIGN_TTL_SECONDS:
            raise ValueError(f"S3 URLs live 1 s to 7 days; asked for {ttl_seconds} s")
        return self._presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )

    async def ping(self) -> None:
        # Not run_to_completion: a readiness probe must be able to give up on a hung endpoint at once;
        # the read-only call left running in its thread harms nothing.
        await asyncio.get_running_loop().run_in_executor(self._executor, self._head_bucket)

    async def aclose(self) -> None:
        await run_to_completion(None, self._executor.shutdown, wait=True)
        self.client.close()
        if self._presign_client is not self.client:
            self._presign_client.close()

    # Blocking steps, run in the executor.

    def _ensure_bucket(self) -> None:
        with translated_s3_errors(f"cannot create bucket {self.bucket!r}"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
            try:
                if self._region == "us-east-1":  # the one region that refuses a LocationConstraint
                    self.client.create_bucket(Bucket=self.bucket)
                else:
                    self.client.create_bucket(
                        Bucket=self.bucket,
                        CreateBucketConfiguration={"LocationConstraint": self._region},  # type: ignore[typeddict-item]
                    )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise

    def _head_bucket(self) -> None:
        with translated_s3_errors(f"cannot reach bucket {self.bucket!r}"):
            self.client.head_bucket(Bucket=self.bucket)

    def _head(self, key: str) -> StoredObject | None:
        with translated_s3_errors(f"cannot look up {key!r}"):
            try:
                response = self.client.head_object(Bucket=self.bucket, Key=key)
                tags = self.client.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
            except ClientError as exc:
                if is_not_found(exc):
                    return None
                raise
        sha256 = next((tag["Value"] for tag in tags if tag["Key"] == SHA256_TAG), "")
        content_type = response.get("ContentType", "application/octet-stream")
        return StoredObject(key, response["ContentLength"], sha256, content_type)

    def _abort_uploads(self, key: str) -> None:
        with translated_s3_errors(f"cannot abort unfinished uploads of {key!r}"):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for upload in page.get("Uploads", []):
                    if upload.get("Key") == key:  # the prefix also matches longer keys
                        logger.info("aborting unfinished upload %s of %s", upload["UploadId"], key)
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                        )

    def _list_page(self, prefix: str, token: str | None) -> tuple[list[ListedObject], str | None]:
        with translated_s3_errors(f"cannot list {prefix!r}"):
            if token is None:
                page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
            else:
                page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, ContinuationToken=token)
        objects = [
            ListedObject(item["Key"], item["Size"], item["LastModified"]) for item in page.get("Contents", [])
        ]
        return objects, page.get("NextContinuationToken") if page.get("IsTruncated") else None

    def _delete(self, key: str) -> None:
        with translated_s3_errors(f"cannot delete {key!r}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
