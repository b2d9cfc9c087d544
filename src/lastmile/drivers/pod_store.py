"""Where proof-of-delivery files live: a small Protocol and the files-on-disk default.

The database keeps one ``ProofOfDelivery`` row per file (who, which order, hash, size); the
bytes go to a :class:`PodStore`. Keys are content-addressed (``org/order/sha256.ext``), so
writing the same photo twice stores it once, and a row written after its file can never point
at half a file (files are written to a temporary name, then renamed). Another store (S3, a
network share) implements the same three methods.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Protocol

from PIL import Image

from lastmile.config import Settings
from lastmile.core.errors import NotFound

IMAGE_TYPES: tuple[tuple[str, str], ...] = (
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
)


MAX_PIXELS = 40_000_000
"""Largest proof image, in pixels (a 40-megapixel phone photo): a few megabytes of PNG can
unpack to gigabytes (a decompression bomb), so the size is checked before decoding."""
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def image_type(data: bytes) -> str | None:
    """The image type of ``data`` (JPEG, PNG, WebP), or ``None`` when it is not a whole,
    decodable image of those types.

    The image is decoded (Pillow), not judged by its first bytes: a file that starts like a
    JPEG and goes on with anything else, a truncated photo, or a tiny file that claims
    a billion pixels is refused. What the client calls the file (name, Content-Type) is not
    trusted.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(_FORMATS)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return None
                if image.format == "JPEG":  # decode at 1/8 scale: every block is still read
                    image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
                image.load()
                return _FORMATS.get(image.format or "")
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        return None


def too_large(limit: int) -> str:
    """What a client is told about a proof over ``LASTMILE_POD_MAX_BYTES``."""
    return (
        f"the file is larger than {limit} bytes, the largest proof of delivery accepted; "
        "send a smaller photo"
    )


def extension(content_type: str) -> str:
    return dict(IMAGE_TYPES).get(content_type, "bin")


class PodStore(Protocol):
    """Stores POD files by key (``[A-Za-z0-9_.-]`` segments joined by ``/``)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing what was there: keys are content hashes)."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`NotFound` if there are none."""

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it does not exist."""


_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")


class FileStore:
    """Files under a directory (default ``data_dir / "pod"``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not parts or any(not _SEGMENT.match(p) for p in parts):
            raise ValueError(f"invalid POD storage key {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:  # a proof whose file was erased or deleted by retention has no usable key
            return self._path(key).read_bytes()
        except (FileNotFoundError, ValueError):
            raise NotFound("the proof-of-delivery file is missing from the store") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def store_for(settings: Settings) -> PodStore:
    """The store the settings describe (today always files in the data directory)."""
    return FileStore(settings.data_dir / "pod")
