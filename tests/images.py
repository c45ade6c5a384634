"""Test images written without an imaging library."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path


def write_png(path: Path, width: int, height: int) -> None:
    """A real (gradient) PNG, written with zlib only, so tests need no imaging library."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        shade = (y * 255) // max(height - 1, 1)
        rows.extend(bytes((shade, 80, 255 - shade)) * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
                     + chunk(b"IEND", b""))
