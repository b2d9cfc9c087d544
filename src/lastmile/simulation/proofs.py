"""The proofs of delivery a simulated driver uploads: small PNGs made on the spot.

No image library and no files: the server only needs a real PNG (it decodes it), and
a seeded generator keeps a day reproducible.
"""

from __future__ import annotations

import math
import random
import struct
import zlib
from collections.abc import Sequence


def _png(width: int, height: int, rows: Sequence[bytes]) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def proof_png(kind: str, rng: random.Random) -> bytes:
    """A small generated PNG: a squiggle for a ``signature``, grey noise for a ``photo``."""
    width, height = (160, 48) if kind == "signature" else (64, 48)
    if kind != "signature":
        return _png(width, height, [rng.randbytes(width) for _ in range(height)])
    pixels = [bytearray(b"\xff" * width) for _ in range(height)]
    a1, a2 = rng.uniform(8, 14), rng.uniform(3, 7)
    f1, f2 = rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.4)
    p1, p2 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    previous: int | None = None
    for x in range(10, width - 10):
        y = round(height / 2 + a1 * math.sin(f1 * x + p1) + a2 * math.sin(f2 * x + p2))
        y = min(max(y, 1), height - 2)
        low, high = (y, y) if previous is None else (min(y, previous), max(y, previous))
        for row in range(low, high + 2):
            pixels[min(row, height - 1)][x] = 0
        previous = y
    return _png(width, height, [bytes(row) for row in pixels])
