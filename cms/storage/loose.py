"""Loose objects (``objects/ab/cdef...``, one zlib stream each: ``<kind> <size>\\0<content>``)
read in this process.

A one-file commit (made with git, or pushed: a push of a few objects is unpacked) leaves its
trees loose. A folder collection of 100,000 files is a tree of about 5 MB: inflating it here
costs what it costs git, without passing 5 MB through ``git cat-file``'s pipe (about a third
of the read). Anything else (a packed object, one in an alternate store, a damaged file) is
not read here: the caller asks git, which knows all of them.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
HEADER = 32  # bytes enough for a header: "<kind> <size>" and a NUL


def read_loose(objects: Path, sha: str, kind: bytes) -> bytes | None:
    """The content of the loose object ``sha`` if it is one of ``kind`` (b"tree", b"blob"...);
    None when it is not loose here or not what its header says."""
    if not SHA.fullmatch(sha):
        return None
    try:
        data = (objects / sha[:2] / sha[2:]).read_bytes()
    except OSError:
        return None
    try:
        # The header first (it fits in HEADER bytes), then an inflater that stops right after
        # it gives the content as it comes, without copying megabytes to cut the header off.
        header, nul, _ = zlib.decompressobj().decompress(data, HEADER).partition(b"\0")
        found, _, size = header.partition(b" ")
        if not nul or found != kind or not size.isdigit():
            return None
        inflater = zlib.decompressobj()
        inflater.decompress(data, len(header) + 1)
        content = inflater.decompress(inflater.unconsumed_tail)
    except zlib.error:
        return None
    if not inflater.eof or inflater.unused_data or int(size) != len(content):
        return None
    return content
