"""``HeadFirstReader``: the bytes rehost kept while downloading serve the probe's first reads; anything
past them comes from the stored object, opened only then, and the whole reads exactly as stored."""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from activities.head_reader import HEAD_BYTES, HeadFirstReader, kept_head

OBJECT = os.urandom(3 * 1024 * 1024 + 5)


class _Stored:
    def __init__(self) -> None:
        self.opened = 0

    def open(self) -> BinaryIO:
        self.opened += 1
        return io.BytesIO(OBJECT)


def _reader(stored: _Stored, head_bytes: int = HEAD_BYTES) -> io.BufferedReader:
    return io.BufferedReader(HeadFirstReader(OBJECT[:head_bytes], len(OBJECT), stored.open), 64 * 1024)


def test_reads_within_the_head_never_open_the_stored_object() -> None:
    stored = _Stored()
    with _reader(stored) as reader:
        assert reader.read(1000) == OBJECT[:1000]
        reader.seek(HEAD_BYTES - 300_000)
        assert reader.read(1000) == OBJECT[HEAD_BYTES - 300_000 : HEAD_BYTES - 299_000]

    assert stored.opened == 0


def test_the_whole_object_reads_as_stored_across_the_head_opening_it_once() -> None:
    stored = _Stored()
    with _reader(stored) as reader:
        assert reader.read() == OBJECT
        reader.seek(-10, io.SEEK_END)
        assert reader.read() == OBJECT[-10:]
        reader.seek(5)
        assert reader.read(7) == OBJECT[5:12]

    assert stored.opened == 1


def test_kept_head_keeps_the_first_bytes_only() -> None:
    head = bytearray()
    for start in range(0, len(OBJECT), 300_000):
        kept_head(head, OBJECT[start : start + 300_000])

    assert bytes(head) == OBJECT[:HEAD_BYTES]
