"""A real Nominatim server on loopback, over the bundled Liechtenstein extract.

``scripts/nominatim-test-server.sh setup`` installs nominatim-db/nominatim-api into their own
venv and imports the extract into the database ``lastmile_nominatim`` (both cached under
``~/.cache/lastmile-nominatim``; about 2 minutes the first time, well under a second after).
The session then runs ``nominatim serve`` on a free loopback port and stops it at the end.

When that cannot be done (PostGIS or osm2pgsql missing, PostgreSQL down) the tests that need
the server are **skipped** with the reason, except in CI (``CI=true``) where they **fail**:
CI installs the system packages (see the script's header) and must exercise the real server.
``LASTMILE_NOMINATIM_URL`` points the tests at a server that is already running instead.

A real OSRM (``osrm_url``) works the same way: ``scripts/osrm-test-server.sh`` installs the
``osrm-bindings`` wheel (osrm-extract/-contract/-routed) into its own venv and prepares the
extract with the car profile (under ``~/.cache/lastmile-osrm``, a few seconds the first time);
the session runs ``osrm-routed --algorithm ch`` on a free loopback port and stops it at the
end. Skipped locally when that fails, failed in CI. ``LASTMILE_OSRM_URL`` points the tests at
a running server instead (car profile over the same extract, default `--max-table-size`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "nominatim-test-server.sh"
OSRM_SCRIPT = ROOT / "scripts" / "osrm-test-server.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(message: str) -> None:
    text = f"real Nominatim not available: {message}"
    if _in_ci():
        pytest.fail(text + " (CI=true: the Nominatim tests must run in CI)", pytrace=False)
    pytest.skip(text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(probe: str, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether the server started as ``process`` answers ``probe`` (a URL) with 200 in time;
    false at once if the process has died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(probe, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def nominatim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("LASTMILE_NOMINATIM_URL")
    if given:
        yield given.rstrip("/")
        return
    try:
        setup = subprocess.run(
            ["bash", str(SCRIPT), "setup"],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{SCRIPT.name} setup did not finish: {exc}")
    if setup.returncode != 0:
        tail = "\n".join((setup.stderr or setup.stdout).strip().splitlines()[-8:])
        _unavailable(f"{SCRIPT.name} setup exited with {setup.returncode}:\n{tail}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("nominatim") / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(SCRIPT), "serve", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        if not _wait_ready(f"{url}/status?format=json", process, timeout_s=60):
            _unavailable(f"nominatim serve did not start:\n{log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- OSRM ---------------------------------------------------------------------------------


def _osrm_unavailable(message: str) -> None:
    text = f"real OSRM not available: {message}"
    if _in_ci():
        pytest.fail(text + " (CI=true: the OSRM tests must run in CI)", pytrace=False)
    pytest.skip(text)


@pytest.fixture(scope="session")
def osrm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running ``osrm-routed`` (car profile, Liechtenstein) on loopback, for the session."""
    given = os.environ.get("LASTMILE_OSRM_URL")
    if given:
        yield given.rstrip("/")
        return
    try:
        setup = subprocess.run(
            ["bash", str(OSRM_SCRIPT), "setup"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _osrm_unavailable(f"{OSRM_SCRIPT.name} setup did not finish: {exc}")
    lines = setup.stdout.strip().splitlines()
    if setup.returncode != 0 or len(lines) < 2:
        tail = "\n".join((setup.stderr or setup.stdout).strip().splitlines()[-8:])
        _osrm_unavailable(f"{OSRM_SCRIPT.name} setup exited with {setup.returncode}:\n{tail}")
    routed, dataset = lines[-2], lines[-1]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("osrm") / "routed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [routed, "--algorithm", "ch", "--ip", "127.0.0.1", "--port", str(port), dataset],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        if not _wait_ready(f"{url}/nearest/v1/driving/9.52,47.14", process, timeout_s=30):
            _osrm_unavailable(f"osrm-routed did not start:\n{log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Valhalla -----------------------------------------------------------------------------

VALHALLA_SCRIPT = ROOT / "scripts" / "valhalla-test-server.sh"


def _valhalla_unavailable(message: str) -> None:
    text = f"real Valhalla not available: {message}"
    if _in_ci():
        pytest.fail(text + " (CI=true: the Valhalla tests must run in CI)", pytrace=False)
    pytest.skip(text)


@pytest.fixture(scope="session")
def valhalla_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running ``valhalla_service`` (pyvalhalla's, Liechtenstein tiles) on loopback."""
    given = os.environ.get("LASTMILE_VALHALLA_URL")
    if given:
        yield given.rstrip("/")
        return
    try:
        setup = subprocess.run(
            ["bash", str(VALHALLA_SCRIPT), "setup"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _valhalla_unavailable(f"{VALHALLA_SCRIPT.name} setup did not finish: {exc}")
    if setup.returncode != 0:
        tail = "\n".join((setup.stderr or setup.stdout).strip().splitlines()[-8:])
        _valhalla_unavailable(
            f"{VALHALLA_SCRIPT.name} setup exited with {setup.returncode}:\n{tail}"
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("valhalla") / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(VALHALLA_SCRIPT), "serve", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        if not _wait_ready(f"{url}/status", process, timeout_s=30):
            _valhalla_unavailable(f"valhalla_service did not start:\n{log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
