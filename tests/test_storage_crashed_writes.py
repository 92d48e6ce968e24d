"""A writer killed outright (SIGKILL) mid-write, on both backends: the object under its key is untouched,
and ``discard_incomplete`` removes exactly what the dead writer left (temporary files, an unfinished
multipart upload) and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from storage import MediaStorage, build_storage
from tests.fixtures.s3 import MOTO_ACCESS_KEY, MOTO_REGION, MOTO_SECRET_KEY, MotoS3
from tests.test_storage_backends import leftovers, stream_of
from tests.wait import wait_until

REPO = Path(__file__).resolve().parents[1]
KEY = "videos/p1/job1/video.mp4"
NEIGHBOUR = "videos/p1/job1/video.mp4.x"  # a key whose temporaries share the prefix


@pytest.fixture(params=["local", "s3"])
def storage_fields(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "local":
        return {"data_dir": str(tmp_path), "media_signing_secret": "test-secret-" + "s" * 32}
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    return {
        "data_dir": str(tmp_path),
        "storage_backend": "s3",
        "s3_endpoint_url": moto.endpoint_url,
        "s3_bucket": moto.new_bucket(),
        "s3_region": MOTO_REGION,
        "s3_access_key_id": MOTO_ACCESS_KEY,
        "s3_secret_access_key": MOTO_SECRET_KEY,
        "s3_part_size_mb": 5,
    }


@pytest.fixture
async def storage(storage_fields: dict[str, Any]) -> AsyncIterator[MediaStorage]:
    built = build_storage(Settings(**storage_fields))
    yield built
    await built.aclose()


@pytest.fixture
def crash_writer(storage_fields: dict[str, Any]) -> Iterator[Any]:
    """Starts ``tests.storage_crash_writer`` on a key; the test SIGKILLs it."""
    started: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAI_")}
    env.update({f"INFRAI_{name.upper()}": str(value) for name, value in storage_fields.items()})

    def start(key: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.storage_crash_writer", key],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def _kill_mid_write(start: Any, storage: MediaStorage, key: str, before: list[str]) -> None:
    writer = start(key)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == b"stalled"
    # Stalled after 6 MiB: on S3 the first 5 MiB part is uploading or uploaded; locally it is written.
    wait_until(lambda: len(leftovers(storage)) > len(before))
    writer.kill()
    writer.wait()


async def test_discard_incomplete_removes_what_a_killed_writer_left_and_keeps_the_object(
    storage: MediaStorage, crash_writer: Any
) -> None:
    stored = await storage.put_stream(KEY, stream_of(b"the complete video"), "video/mp4")
    before = leftovers(storage)

    _kill_mid_write(crash_writer, storage, KEY, before)
    assert leftovers(storage) != before  # the crash did leave something behind
    await storage.discard_incomplete(KEY)

    assert leftovers(storage) == before
    assert await storage.head(KEY) == stored


async def test_discard_incomplete_leaves_other_keys_unfinished_writes_alone(
    storage: MediaStorage, crash_writer: Any
) -> None:
    _kill_mid_write(crash_writer, storage, NEIGHBOUR, [])
    left_by_neighbour = leftovers(storage)

    await storage.discard_incomplete(KEY)

    assert leftovers(storage) == left_by_neighbour
    await storage.discard_incomplete(NEIGHBOUR)
    assert leftovers(storage) == []


async def test_discard_incomplete_with_nothing_to_discard_is_harmless(storage: MediaStorage) -> None:
    await storage.discard_incomplete(KEY)

    assert leftovers(storage) == []
