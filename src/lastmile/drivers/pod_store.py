"""Where proof-of-delivery files live: a small Protocol and the files-on-disk default.

The database keeps one ``ProofOfDelivery`` row per file (who, which order, hash, size); the
bytes go to a :class:`PodStore`. Keys are content-addressed (``org/order/sha256.ext``), so
writing the same photo twice stores it once, and a row written after its file can never point
at half a file (files are written to a temporary name, then renamed). Another store (S3, a
network share) implements the same three methods.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from lastmile.config import Settings
from lastmile.core.errors import NotFound

IMAGE_TYPES: tuple[tuple[str, str], ...] = (
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
)


def sniff_image(data: bytes) -> str | None:
    """The image type of ``data`` by its magic bytes (JPEG, PNG, WebP), or ``None``.

    What the client calls the file (name, Content-Type) is not trusted.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


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
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound("the proof-of-delivery file is missing from the store") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def store_for(settings: Settings) -> PodStore:
    """The store the settings describe (today always files in the data directory)."""
    return FileStore(settings.data_dir / "pod")
