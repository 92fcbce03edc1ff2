"""The phone page's home-screen icons, drawn here so the PNGs in ``static/`` can be made again exactly.

A warm disc in a ring on the page's dark background: the lamp of a dim treatment room. ``any``
icons have rounded corners; the ``maskable`` one and the ``apple-touch-icon`` fill the square (the
phone cuts its own shape), the motif inside the central 80 % a mask may keep.

``python -m ambience.surfaces.http.icons`` writes them into ``static/``; a test checks the committed
files are what this draws. Only the standard library: PNG is a zlib stream of RGBA rows.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

BACKGROUND = (0x17, 0x11, 0x0D)
ACCENT = (0xE5, 0xA3, 0x5C)
RING = (0x8A, 0x5E, 0x36)

ICONS = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),
}
"""File name -> (size in pixels, fills the square)."""


def _coverage(distance: float) -> float:
    """How much of a pixel a shape covers, from the signed distance (pixels) of its centre to the edge."""
    return min(1.0, max(0.0, 0.5 - distance))


def _rounded_square(x: float, y: float, size: int, radius: float) -> float:
    """Signed distance to a square of side ``size`` with corners rounded by ``radius``."""
    half = size / 2
    qx, qy = abs(x - half) - (half - radius), abs(y - half) - (half - radius)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - radius


def _mix(under: tuple[float, ...], colour: tuple[int, int, int], amount: float) -> tuple[float, ...]:
    return tuple(u + (c - u) * amount for u, c in zip(under, colour, strict=True))


def draw(size: int, full_bleed: bool) -> bytes:
    """The icon as PNG bytes (RGBA, 8 bits a channel)."""
    centre = size / 2
    disc, ring, ring_half_width = 0.2 * size, 0.33 * size, 0.028 * size
    corner = 0.0 if full_bleed else 0.18 * size
    rows = bytearray()
    for j in range(size):
        rows.append(0)  # filter: none
        y = j + 0.5
        for i in range(size):
            x = i + 0.5
            alpha = 1.0 if full_bleed else _coverage(_rounded_square(x, y, size, corner))
            if alpha == 0.0:
                rows += b"\0\0\0\0"
                continue
            d = math.hypot(x - centre, y - centre)
            pixel: tuple[float, ...] = BACKGROUND
            pixel = _mix(pixel, RING, _coverage(abs(d - ring) - ring_half_width))
            pixel = _mix(pixel, ACCENT, _coverage(d - disc))
            rows += bytes(round(c) for c in pixel) + bytes([round(alpha * 255)])
    return _png(size, bytes(rows))


def _png(size: int, rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


STATIC = Path(__file__).with_name("static")


def main(folder: Path = STATIC) -> int:
    for name, (size, full_bleed) in ICONS.items():
        (folder / name).write_bytes(draw(size, full_bleed))
        print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
