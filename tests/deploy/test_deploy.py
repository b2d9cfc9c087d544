"""docs/deploy.md, run: the guide and the test cannot drift apart.

The guide's shell blocks tagged ``test=server`` (or ``small-box``) run here as written, with
only what a loopback run needs changed, by plain text substitution (``MOVES`` below):

- the paths (``/opt/lastmile``, ``/etc/lastmile``, ``/var/lib/lastmile``,
  ``/var/backups/lastmile``, ``/etc/caddy``) move under a temporary directory;
- ``https://deliveries.example.com`` becomes ``https://127.0.0.1:PORT``, and the server's port
  8001 a free one;
- the database address becomes a fresh PostgreSQL database on 127.0.0.1;
- ``runuser -u lastmile --`` is dropped (the test is its own service user).

Untagged blocks need the real machine (apt, adduser, systemctl); the test does what they do
instead: for ``systemctl enable --now UNITS`` it starts each unit's ``ExecStartPre`` and
``ExecStart`` with the unit's ``Environment``/``EnvironmentFile``/``WorkingDirectory`` (the
units are the ones shipped in the package, checked with ``systemd-analyze verify``), and for
``systemctl reload caddy`` it starts Debian's Caddy on the guide's Caddyfile with ``tls
internal`` (no certificate authority is reachable here) and the loopback ports.

Fast checks (shell syntax, ``systemd-analyze verify``, ``caddy validate``, the settings file)
run in ``make test``; the whole run (a fresh venv from the wheel of ``make dist``, a small day
driven over HTTPS) is ``make test-deploy`` (marker ``deploy``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from lastmile.config import Settings
from lastmile.deploy import FILES, UNITS

REPO = Path(__file__).parents[2]
GUIDE = REPO / "docs" / "deploy.md"
IN_CI = os.environ.get("CI") == "true"


@dataclass(frozen=True)
class Block:
    tags: frozenset[str]
    text: str
    section: str


def blocks() -> list[Block]:
    """The guide's ``sh`` blocks in order, with their ``test=`` tags and their section."""
    found: list[Block] = []
    section = ""
    in_block: list[str] | None = None
    tags: frozenset[str] = frozenset()
    for line in GUIDE.read_text().splitlines():
        if in_block is None:
            if line.startswith("## "):
                section = line[3:]
            match = re.match(r"^```sh(?: test=(\S+))?\s*$", line)
            if match:
                in_block = []
                tags = frozenset((match.group(1) or "").split(",")) - {""}
        elif line.startswith("```"):
            found.append(Block(tags, "\n".join(in_block) + "\n", section))
            in_block = None
        else:
            in_block.append(line)
    return found


@dataclass
class Machine:
    """A loopback stand-in for the server: where the guide's paths and ports went."""

    root: Path
    web_port: int
    https_port: int
    database_url: str | None

    def moves(self) -> list[tuple[str, str]]:
        return [
            ("runuser -u lastmile -- ", ""),
            ("/opt/lastmile", str(self.root / "opt/lastmile")),
            ("/etc/lastmile", str(self.root / "etc/lastmile")),
            ("/var/lib/lastmile", str(self.root / "var/lib/lastmile")),
            ("/var/backups/lastmile", str(self.root / "var/backups/lastmile")),
            ("/etc/caddy", str(self.root / "etc/caddy")),
            ("https://deliveries.example.com", f"https://127.0.0.1:{self.https_port}"),
            ("127.0.0.1:8001", f"127.0.0.1:{self.web_port}"),
            ("--port 8001", f"--port {self.web_port}"),
        ]

    def move(self, text: str) -> str:
        for old, new in self.moves():
            text = text.replace(old, new)
        if self.database_url:
            text = re.sub(
                r"^LASTMILE_DATABASE_URL=.*$",
                f"LASTMILE_DATABASE_URL={self.database_url}",
                text,
                flags=re.M,
            )
        return text

    def make_dirs(self) -> None:
        """What step 1's adduser/install -d do on the real machine."""
        for path in ("var/lib/lastmile", "var/backups/lastmile", "etc/caddy", "opt"):
            (self.root / path).mkdir(parents=True, exist_ok=True)


def run_block(machine: Machine, block: Block, cwd: Path, env: dict[str, str]) -> str:
    script = machine.move(block.text)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (
        f"block failed:\n{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done.stdout


# --------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Unit:
    name: str
    exec_start_pre: list[str]
    exec_start: str
    environment: dict[str, str]
    environment_files: list[str]
    working_directory: str | None


def read_unit(text: str, name: str) -> Unit:
    """The [Service] lines the test runs (systemd's own syntax is checked by verify)."""
    pre: list[str] = []
    start = ""
    env: dict[str, str] = {}
    files: list[str] = []
    workdir = None
    for raw in text.splitlines():
        line = raw.strip()
        if "=" not in line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        if key == "ExecStartPre":
            pre.append(value)
        elif key == "ExecStart":
            start = value
        elif key == "Environment":
            k, v = value.split("=", 1)
            env[k] = v
        elif key == "EnvironmentFile":
            files.append(value)
        elif key == "WorkingDirectory":
            workdir = value
    return Unit(name, pre, start, env, files, workdir)


def unit_environment(unit: Unit) -> dict[str, str]:
    """The unit's environment as systemd builds it: Environment=, then EnvironmentFile=
    (quotes removed, as systemd does), on top of a minimal PATH."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    env.update(unit.environment)
    for path in unit.environment_files:
        for key, value in dotenv_values(path).items():
            if value is not None:
                env[key] = value
    return env


def installed_units(machine: Machine) -> Path:
    """The package's units with the guide's paths moved, as `cp ... /etc/systemd/system/`."""
    target = machine.root / "etc/systemd/system"
    target.mkdir(parents=True, exist_ok=True)
    for name in UNITS:
        (target / name).write_text(machine.move((FILES / "systemd" / name).read_text()))
    return target


def verify_units(directory: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", *[str(directory / n) for n in UNITS]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "lastmile" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        if IN_CI:
            pytest.fail(f"{tool} is missing (.ci/run installs it)")
        pytest.skip(f"{tool} is not installed")


# --------------------------------------------------------------------------- caddy


def caddyfile_for_loopback(machine: Machine, guide_caddyfile: str) -> str:
    """The guide's Caddyfile with what loopback needs: a certificate from Caddy's own
    authority, no admin port, no attempt to install that authority into the system."""
    site = f"127.0.0.1:{machine.https_port}"
    assert site + " {" in guide_caddyfile, guide_caddyfile
    body = guide_caddyfile.replace(site + " {", site + " {\n\ttls internal", 1)
    return (
        "{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n"
        f"\tstorage file_system {machine.root / 'caddy-data'}\n"
        f"\thttps_port {machine.https_port}\n}}\n\n" + body
    )


def caddy_env(machine: Machine) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(machine.root / "caddy-home"),
        "XDG_DATA_HOME": str(machine.root / "caddy-data"),
        "XDG_CONFIG_HOME": str(machine.root / "caddy-config"),
    }


# --------------------------------------------------------------------------- fast checks


def test_the_guide_has_runnable_blocks_for_both_ways() -> None:
    found = blocks()
    assert [b for b in found if "server" in b.tags]
    assert [b for b in found if "small-box" in b.tags]
    for block in found:
        done = subprocess.run(["bash", "-n", "-c", block.text], capture_output=True, text=True)
        assert done.returncode == 0, f"{block.text}\n{done.stderr}"


def test_shipped_units_verify_and_match_the_guide(tmp_path: Path) -> None:
    need("systemd-analyze")
    machine = Machine(tmp_path, 18001, 18443, None)
    # The venv the guide's step 3 creates; here the test's own lastmile stands in for it.
    venv_bin = tmp_path / "opt/lastmile/venv/bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "lastmile").symlink_to(Path(sys.executable).parent / "lastmile")
    verify_units(installed_units(machine))
    web = read_unit((FILES / "systemd/lastmile-web.service").read_text(), "lastmile-web")
    assert web.exec_start.startswith(
        "/opt/lastmile/venv/bin/lastmile serve --host 127.0.0.1 --port 8001"
    )
    assert web.environment_files == ["/etc/lastmile/lastmile.env"]
    assert web.working_directory == "/var/lib/lastmile"
    guide = GUIDE.read_text()
    for unit in ("lastmile-web", "lastmile-worker", "lastmile-backup.timer"):
        assert unit in guide
    assert "127.0.0.1:8001" in (FILES / "Caddyfile").read_text()


def test_the_guides_settings_files_are_valid(tmp_path: Path) -> None:
    machine = Machine(tmp_path, 18001, 18443, "postgresql+psycopg://lastmile@127.0.0.1:5432/x")
    machine.make_dirs()
    for tag in ("server", "small-box"):
        (settings_block,) = [
            b for b in blocks() if tag in b.tags and "lastmile.env <<EOF" in b.text
        ]
        run_block(machine, settings_block, tmp_path, {**os.environ})
        settings = Settings(_env_file=tmp_path / "etc/lastmile/lastmile.env")  # type: ignore[call-arg]
        assert settings.environment == "production" and settings.https
        assert settings.trusted_proxies == ["127.0.0.1"]
        assert len(settings.secret_key or "") >= 32
        assert settings.is_postgres == (tag == "server")


def test_the_caddyfile_validates(tmp_path: Path) -> None:
    need("caddy")
    machine = Machine(tmp_path, 18001, 18443, None)
    text = (
        (FILES / "Caddyfile")
        .read_text()
        .replace("deliveries.example.com", f"127.0.0.1:{machine.https_port}")
    )
    config = tmp_path / "Caddyfile"
    config.write_text(caddyfile_for_loopback(machine, text))
    done = subprocess.run(
        ["caddy", "validate", "--adapter", "caddyfile", "--config", str(config)],
        capture_output=True,
        text=True,
        env=caddy_env(machine),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- the whole run


SERVER_SECTION = "A server (PostgreSQL, workers, HTTPS)"


@pytest.fixture
def machine(postgres_url: str, tmp_path: Path) -> Machine:
    from helpers.live import free_port

    root = tmp_path / "server"
    found = Machine(root, free_port(), free_port(), postgres_url)
    found.make_dirs()
    return found


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    """The wheel and constraints of ``make dist``, "copied to the server"."""
    dist = REPO / "dist"
    wheels = sorted(dist.glob("lastmile-*-py3-none-any.whl"))
    if not wheels or not (dist / "constraints.txt").is_file():
        pytest.fail("run `make dist` first (`make test-deploy` does)")
    target = tmp_path / "upload"
    target.mkdir()
    shutil.copy(wheels[-1], target)
    shutil.copy(dist / "constraints.txt", target)
    return target


class Services:
    """The processes the guide's ``systemctl`` lines would start, stopped at the end."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[str, Path] = {}
        self.handles: list[Any] = []
        self.clients: list[Any] = []

    def start_unit(self, name: str) -> None:
        path = self.machine.root / "etc/systemd/system" / f"{name}.service"
        unit = read_unit(path.read_text(), name)
        env = unit_environment(unit)
        cwd = unit.working_directory or "/"
        for line in unit.exec_start_pre:
            done = subprocess.run(line.split(), env=env, cwd=cwd, capture_output=True, text=True)
            assert done.returncode == 0, f"{name} ExecStartPre: {done.stderr}"
        log = self.machine.root / f"{name}.log"
        self.logs[name] = log
        self.handles.append(log.open("wb"))
        self.procs.append(
            subprocess.Popen(
                unit.exec_start.split(),
                env=env,
                cwd=cwd,
                stdout=self.handles[-1],
                stderr=subprocess.STDOUT,
            )
        )

    def start_caddy(self) -> None:
        config = self.machine.root / "etc/caddy/Caddyfile"
        loopback = self.machine.root / "Caddyfile.loopback"
        # The shipped file proxies to port 8001: moved like every other guide text.
        guide_file = self.machine.move(config.read_text())
        loopback.write_text(caddyfile_for_loopback(self.machine, guide_file))
        log = self.machine.root / "caddy.log"
        self.logs["caddy"] = log
        self.handles.append(log.open("wb"))
        self.procs.append(
            subprocess.Popen(
                ["caddy", "run", "--adapter", "caddyfile", "--config", str(loopback)],
                env=caddy_env(self.machine),
                stdout=self.handles[-1],
                stderr=subprocess.STDOUT,
            )
        )

    def dump(self) -> None:
        for name, log in self.logs.items():
            sys.stderr.write(f"--- {name}\n{log.read_text(errors='replace')[-4000:]}\n")

    def client(self, base_url: str) -> Any:
        """An HTTPS client of Caddy, closed with the services."""
        import httpx

        client = httpx.Client(base_url=base_url, verify=self.tls(), timeout=60)
        self.clients.append(client)
        return client

    def tls(self) -> Any:
        """An SSL context that trusts Caddy's local authority (and nothing else)."""
        import ssl

        return ssl.create_default_context(cafile=str(self.ca()))

    def ca(self) -> Path:
        return self.machine.root / "caddy-data/pki/authorities/local/root.crt"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for handle in self.handles:
            handle.close()
        for client in self.clients:
            client.close()


def wait_for(check: object, what: str, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if callable(check) and check():
                return
        except Exception as exc:  # still starting
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached in {timeout} s ({last})")


def guide_env() -> dict[str, str]:
    """A root shell's environment: the server's python3, no test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env


def walk(
    machine: Machine,
    services: Services,
    upload: Path,
    sequence: list[Block],
    tag: str,
    units: list[str],
) -> None:
    """Run the guide's blocks in order: tagged ones as written (moved), and for the root-only
    ``systemctl`` lines what they would do."""
    env = guide_env()
    for block in sequence:
        if tag in block.tags:
            if "curl -fsS https://" in block.text:
                # Caddy's own authority, as the machine's trust store holds Let's Encrypt's.
                env["CURL_CA_BUNDLE"] = str(services.ca())
            run_block(machine, block, upload, env)
        elif "systemctl enable --now" in block.text:
            verify_units(installed_units(machine))
            for name in units:
                services.start_unit(name)
            _wait_ready(machine, services)
        elif "systemctl reload caddy" in block.text:
            services.start_caddy()
            wait_for(services.ca().exists, "Caddy's local authority")


def units_of(block: Block) -> list[str]:
    """The services a ``systemctl enable --now ...`` line starts (timers are checked by
    verify; their service is run by the guide's own backup block)."""
    line = next(x for x in block.text.splitlines() if "systemctl enable" in x)
    return [n for n in line.split("--now", 1)[1].split() if not n.endswith(".timer")]


@pytest.mark.deploy
@pytest.mark.slow
def test_the_guide_end_to_end(machine: Machine, upload: Path, postgres_url: str) -> None:
    """The server way, then the small box on the same installed code."""
    need("caddy")
    need("systemd-analyze")
    guide = blocks()
    server = [b for b in guide if b.section == SERVER_SECTION]
    (server_units,) = [units_of(b) for b in server if "systemctl enable" in b.text]
    assert server_units == ["lastmile-web", "lastmile-worker"]
    services = Services(machine)
    try:
        walk(machine, services, upload, server, "server", server_units)
        drive_a_small_day(machine, services)
    except BaseException:
        services.dump()
        raise
    finally:
        services.stop()

    # The small box: its own settings first, then steps 3 to 8, the web server only.
    from helpers.live import free_port

    box = Machine(machine.root.parent / "box", free_port(), free_port(), None)
    box.make_dirs()
    (box.root / "opt/lastmile").symlink_to(machine.root / "opt/lastmile")
    small = [b for b in guide if b.section.startswith("A small box")]
    (box_units,) = [units_of(b) for b in small if "systemctl enable" in b.text]
    assert box_units == ["lastmile-web"]
    sequence = [b for b in small if "small-box" in b.tags] + server
    services = Services(box)
    try:
        walk(box, services, upload, sequence, "small-box", box_units)
        drive_the_small_box(box, services)
    except BaseException:
        services.dump()
        raise
    finally:
        services.stop()


def _wait_ready(machine: Machine, services: Services) -> None:
    import httpx

    url = f"http://127.0.0.1:{machine.web_port}/readyz"
    wait_for(lambda: httpx.get(url, timeout=2).status_code == 200, url, timeout=300)


def drive_a_small_day(machine: Machine, services: Services) -> None:
    """Through Caddy over HTTPS as a browser and a phone would: log in, import a fleet and
    orders, plan (solved by the worker), watch it on the live stream, dispatch, drive, deliver
    with a photo, open the tracking link; then metrics, logs and a backup."""
    import json
    import threading
    import time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import httpx

    from service.test_driver_api import JPEG, ORDERS, VEHICLES

    base = f"https://127.0.0.1:{machine.https_port}"
    web = services.client(base)
    env_file = dotenv_values(machine.root / "etc/lastmile/lastmile.env")

    # HTTPS: HSTS on every answer, the session cookie Secure, /metrics not reachable from outside.
    health = web.get("/healthz", headers={"X-Request-ID": "deploy-test-1"})
    assert health.status_code == 200
    assert health.headers["X-Request-ID"] == "deploy-test-1"
    assert health.headers["Strict-Transport-Security"].startswith("max-age=")
    login = web.post(
        "/app/login",
        data={"email": "owner@flowers.example", "password": "a-long-password"},
        follow_redirects=False,
    )
    assert login.status_code == 303 and "Secure" in login.headers["set-cookie"], login.text
    web.cookies.clear()
    assert web.get("/metrics").status_code == 404

    token = web.post(
        "/api/v1/auth/token",
        json={"email": "owner@flowers.example", "password": "a-long-password"},
        headers={"X-Request-ID": "deploy-test-login"},
    ).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    unit_env = unit_environment(
        read_unit((machine.root / "etc/systemd/system/lastmile-web.service").read_text(), "web")
    )
    created = subprocess.run(
        [
            str(machine.root / "opt/lastmile/venv/bin/lastmile"),
            *["admin", "create-user", "--org"],
            "Flowers & Co",
            *[
                "--email",
                "driver@flowers.example",
                "--password",
                "driver-password",
                "--role",
                "driver",
            ],
        ],
        env=unit_env,
        cwd=machine.root / "var/lib/lastmile",
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    today = datetime.now(ZoneInfo("Europe/Vaduz")).date().isoformat()
    assert web.post(
        "/api/v1/vehicles/import", files={"file": ("v.csv", VEHICLES.encode())}, headers=admin
    ).status_code in (200, 201)
    assert web.post(
        f"/api/v1/orders/import?date={today}",
        files={"file": ("o.csv", ORDERS.encode())},
        headers=admin,
    ).status_code in (200, 201)
    vehicles = {
        v["external_id"]: v["id"]
        for v in web.get("/api/v1/vehicles", headers=admin).json()["items"]
    }
    members = web.get("/api/v1/members", headers=admin).json()
    driver_user = next(m for m in members if m["email"] == "driver@flowers.example")
    driver = web.post(
        "/api/v1/drivers",
        json={"name": "Dana", "user_id": driver_user["user_id"], "vehicle_id": vehicles["VAN-1"]},
        headers=admin,
    )
    assert driver.status_code == 201, driver.text

    # The live stream through Caddy carries the worker's plan events as they happen.
    seen: list[str] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET", f"{base}/api/v1/events", headers=admin, verify=services.tls(), timeout=120
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("event: "):
                    seen.append(line[7:])
                    if line[7:] in ("plan.done", "plan.failed"):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(30), "no live stream through Caddy"
    plan = web.post("/api/v1/plans", json={"date": today, "time_limit_s": 1}, headers=admin)
    assert plan.status_code == 202, plan.text
    listener.join(timeout=120)
    assert seen and seen[-1] == "plan.done", seen
    assert (
        web.post(f"/api/v1/plans/{plan.json()['id']}/dispatch", json={}, headers=admin).status_code
        == 200
    )

    # The driver's phone: route, start, positions, a delivery with a photo.
    phone_token = web.post(
        "/api/v1/auth/token",
        json={"email": "driver@flowers.example", "password": "driver-password"},
    ).json()["access_token"]
    phone = {"Authorization": f"Bearer {phone_token}"}
    route = web.get(f"/api/v1/driver/route?date={today}", headers=phone).json()["route"]
    stop = next(s for s in route["stops"] if s["kind"] == "order")
    now = datetime.now(ZoneInfo("UTC"))
    at = [(now + timedelta(seconds=s)).isoformat() for s in (0, 30, 60)]
    events = web.post(
        "/api/v1/driver/events",
        json={
            "events": [
                {
                    "key": "dt-start",
                    "type": "route_started",
                    "occurred_at": at[0],
                    "lon": 9.5087,
                    "lat": 47.1657,
                },
                {
                    "key": "dt-deliver",
                    "type": "delivered",
                    "occurred_at": at[2],
                    "stop_id": stop["id"],
                    "lon": stop.get("lon", 9.52),
                    "lat": stop.get("lat", 47.14),
                    "recipient": "Ann",
                },
            ]
        },
        headers=phone,
    )
    assert events.status_code == 200 and all(
        r["status"] == "applied" for r in events.json()["results"]
    ), events.text
    positions = web.post(
        "/api/v1/driver/positions",
        json={"positions": [{"recorded_at": at[1], "lon": 9.515, "lat": 47.15}]},
        headers=phone,
    )
    assert positions.status_code == 200 and positions.json()["accepted"] == 1, positions.text
    photo = web.post(
        "/api/v1/driver/pod",
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        data={"kind": "photo", "event_key": "dt-deliver"},
        headers=phone,
    )
    assert photo.status_code == 201, photo.text
    assert web.get(f"/api/v1/pod/{photo.json()['id']}/file", headers=admin).content == JPEG

    # The customer's tracking link starts with the public address and opens through Caddy.
    link = web.post(f"/api/v1/orders/{stop['order_id']}/tracking-link", headers=admin).json()
    assert link["url"].startswith(env_file["LASTMILE_PUBLIC_URL"] + "/t/"), link
    assert web.get(link["path"]).status_code == 200

    # Metrics from the server port add up both server processes and the worker.
    def metric(name: str, **labels: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"http://127.0.0.1:{machine.web_port}/metrics").text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert metric("lastmile_plans_solved_total", outcome="done") == 1
    assert metric("lastmile_positions_ingested_total") == 1
    assert metric("lastmile_job_duration_seconds_count", job="solve_plan") >= 1
    assert metric("lastmile_http_requests_total", route="/api/v1/driver/pod", status="201") == 1

    # JSON logs in the journal (here: the unit's output) carry the request id from Caddy.
    time.sleep(0.5)
    lines = [
        json.loads(x)
        for x in services.logs["lastmile-web"].read_text().splitlines()
        if x.startswith("{")
    ]
    mine = [x for x in lines if x.get("request_id") == "deploy-test-login"]
    assert mine and mine[0]["route"] == "/api/v1/auth/token" and mine[0]["status"] == 200, lines[
        -5:
    ]

    # The nightly backup unit, run once.
    backup = read_unit(
        (machine.root / "etc/systemd/system/lastmile-backup.service").read_text(), "backup"
    )
    done = subprocess.run(
        backup.exec_start.split(),
        env=unit_environment(backup),
        cwd=backup.working_directory,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    archives = list((machine.root / "var/backups/lastmile").glob("lastmile-backup-*.tar.gz"))
    assert len(archives) == 2  # the guide's own backup of step 8, and this one


def drive_the_small_box(box: Machine, services: Services) -> None:
    """The embedded default behind Caddy: SQLite, jobs inside the one server process."""

    from service.test_driver_api import ORDERS, VEHICLES

    web = services.client(f"https://127.0.0.1:{box.https_port}")
    ready = web.get("/readyz").json()
    assert ready["status"] == "ready", ready
    token = web.post(
        "/api/v1/auth/token",
        json={"email": "owner@flowers.example", "password": "a-long-password"},
    ).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    day = "2026-12-08"
    assert web.post(
        "/api/v1/vehicles/import", files={"file": ("v.csv", VEHICLES.encode())}, headers=admin
    ).status_code in (200, 201)
    assert web.post(
        f"/api/v1/orders/import?date={day}",
        files={"file": ("o.csv", ORDERS.encode())},
        headers=admin,
    ).status_code in (200, 201)
    plan_id = web.post(
        "/api/v1/plans", json={"date": day, "time_limit_s": 1}, headers=admin
    ).json()["id"]

    def solved() -> bool:
        return web.get(f"/api/v1/plans/{plan_id}", headers=admin).json()["status"] == "done"

    wait_for(solved, "the plan solved inside the server process")
    assert (box.root / "var/lib/lastmile/lastmile.db").is_file()
    archives = list((box.root / "var/backups/lastmile").glob("lastmile-backup-*.tar.gz"))
    assert len(archives) == 1  # the guide's backup block, on SQLite
