"""``python -m tests.storage_crash_writer KEY``: start writing KEY into the storage the ``INFRAI_*``
environment describes, then stall forever mid-write so a test can SIGKILL the process like a crash.

It prints ``stalled`` once 6 MiB (more than one S3 part) have gone into the write.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

from core.settings import Settings
from storage import build_storage

MiB = 1024 * 1024


async def _stalling_stream() -> AsyncIterator[bytes]:
    for index in range(6):
        yield bytes([index]) * MiB
    print("stalled", flush=True)
    await asyncio.Event().wait()
    yield b""


async def main(key: str) -> None:
    storage = build_storage(Settings())
    await storage.put_stream(key, _stalling_stream(), "video/mp4")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
