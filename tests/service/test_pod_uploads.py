"""Proof-of-delivery uploads (SQLite and PostgreSQL): the image is decoded, not judged by its
first bytes, and a body over the limit is refused before it is read (a real socket to uvicorn,
with a declared length and with a chunked body)."""

from __future__ import annotations

import io
import select
import socket
import struct
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from test_driver_api import JPEG, ev, plan_day, png, send

from helpers.live import serve_app
from lastmile.drivers.pod_store import MAX_PIXELS, image_type


def _saved(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, format=fmt)
    return out.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` pixels, a few bytes long."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_images_are_decoded_not_sniffed() -> None:
    webp = _saved("WEBP")
    assert image_type(_saved("JPEG")) == "image/jpeg" and image_type(JPEG) == "image/jpeg"
    assert image_type(_saved("PNG")) == "image/png" and image_type(png()) == "image/png"
    assert image_type(webp) == "image/webp"
    photo = _saved("JPEG", (800, 600))
    refused = {
        "magic bytes then text": b"\xff\xd8\xff\xe0 but then anything at all" * 10,
        "a photo cut in half": photo[: len(photo) // 2],
        "a PNG signature alone": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        "a WebP header alone": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
        "a GIF": _saved("GIF"),
        "nothing": b"",
        "a decompression bomb": _bomb_png(100_000, 100_000),
        "just over the pixel limit": _bomb_png(MAX_PIXELS // 1000 + 1, 1000),
    }
    for what, data in refused.items():
        assert image_type(data) is None, what


def _upload(client: TestClient, day: Any, data: bytes, key: str = "k-pod-deliver") -> Any:
    return client.post(
        "/api/v1/driver/pod",
        files={"file": ("x.jpg", data, "image/jpeg")},
        data={"kind": "photo", "event_key": key},
        headers=day.org.driver,
    )


def test_a_file_that_only_starts_like_an_image_is_refused(client: TestClient) -> None:
    day = plan_day(client)
    stop = day.stops[0]
    send(client, day, ev("k-pod-arrive", "arrived", day.at(5), stop["id"]))
    send(client, day, ev("k-pod-deliver", "delivered", day.at(6), stop["id"]))
    fake = _upload(client, day, b"\xff\xd8\xff\xe0" + b"<script>alert(1)</script>" * 40)
    assert fake.status_code == 422, fake.text
    assert fake.json()["errors"][0]["field"] == "file"
    assert "not a whole JPEG, PNG or WebP image" in fake.json()["detail"]
    cut = _saved("JPEG", (800, 600))
    assert _upload(client, day, cut[: len(cut) // 2]).status_code == 422
    assert _upload(client, day, _bomb_png(100_000, 100_000)).status_code == 422
    good = _upload(client, day, _saved("WEBP"))
    assert good.status_code == 201 and good.json()["content_type"] == "image/webp"


def _raw_request(url: str, head: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)
    sock.sendall(head.encode())
    return sock


def _answer(sock: socket.socket, wait_s: float) -> bytes:
    """What the server answered within ``wait_s`` (status line, headers and body)."""
    sock.settimeout(wait_s)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            answer += more
            sock.settimeout(1)
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def test_a_declared_oversize_body_is_refused_before_it_is_read(client: TestClient) -> None:
    day = plan_day(client, "Capped")
    token = day.org.driver["Authorization"]
    with serve_app(client.app) as url:
        sock = _raw_request(
            url,
            "POST /api/v1/driver/pod HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            "Content-Length: 10000000000\r\n\r\n",
        )
        with sock:
            answer = _answer(sock, 5)  # not one byte of the 10 GB was sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"pod_too_large" in answer


def test_a_chunked_body_is_cut_off_at_the_cap(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = plan_day(client, "Chunked")
    settings = client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "pod_max_bytes", 100_000)
    token = day.org.driver["Authorization"]
    chunk = b"x" * 65536
    sent = 0
    answer = b""
    with serve_app(client.app) as url:
        sock = _raw_request(
            url,
            "POST /api/v1/driver/pod HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
        )
        with sock:
            head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n\r\n'
            sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
            deadline = time.monotonic() + 30
            while sent < 200_000_000 and time.monotonic() < deadline:
                if select.select([sock], [], [], 0)[0]:
                    answer = _answer(sock, 5)
                    break
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:  # the server closed the connection after answering
                    answer = _answer(sock, 5)
                    break
                sent += len(chunk)
    assert answer.startswith(b"HTTP/1.1 413"), (sent, answer[:600])
    # cut off near the cap (164 kB with the form's allowance), give or take what the
    # kernel's socket buffers took in: not the 200 MB a reader to the end would take
    assert sent < 20_000_000, sent
