"""docs/deploy/spacegraph.service: what can be checked of a systemd unit on a machine where systemd is
not running. ``systemd-analyze verify`` reads it as systemd would (every key known, every value valid,
the command executable) with no warning; ``systemd-analyze security --offline`` scores its hardening;
and its command line, run as it is written, serves and stops gracefully on SIGTERM, as systemd stops it."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from spacegraph import PROJECT_ROOT
from tests.servers import free_port, wait_until_answers

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
UNIT = PROJECT_ROOT / "docs" / "deploy" / "spacegraph.service"
CHECKOUT = "/srv/spacegraph"  # where the unit expects the project; here, this checkout


def installed(tmp_path: Path, text: str) -> Path:
    """The unit as a publisher installs it, its checkout being this one."""
    path = tmp_path / "spacegraph.service"
    path.write_text(text.replace(CHECKOUT, str(PROJECT_ROOT)))
    return path


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_passes_without_a_warning(tmp_path: Path) -> None:
    result = verify(installed(tmp_path, UNIT.read_text()))
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


@pytest.mark.parametrize(
    ("old", "new"),
    [("Restart=on-failure", "Restart=sometimes"), ("ProtectSystem=strict", "ProtectSystm=strict"),
     ("/.venv/bin/spacegraph serve", "/.venv/bin/spacegraf serve")],
)  # fmt: skip
def test_verify_catches_a_broken_unit(tmp_path: Path, old: str, new: str) -> None:
    text = UNIT.read_text()
    assert old in text
    result = verify(installed(tmp_path, text.replace(old, new)))
    assert result.returncode != 0 or result.stderr != ""


def test_the_unit_is_hardened(tmp_path: Path) -> None:
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(installed(tmp_path, UNIT.read_text()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = result.stdout.strip().splitlines()[-1]
    exposure = float(last.split("spacegraph.service: ")[1].split()[0])
    assert exposure <= 2.0, last  # systemd's scale: 0 (locked down) to 10 (exposed); "OK" up to 4.9


def command_line(text: str) -> list[str]:
    """The unit's ExecStart, as systemd splits it (continuation lines joined)."""
    joined = text.replace("\\\n", " ")
    line = next(line for line in joined.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_its_command_serves_and_stops_gracefully(tmp_path: Path, linked_build: Path) -> None:
    text = UNIT.read_text()
    port = free_port()
    argv = command_line(text.replace(CHECKOUT, str(PROJECT_ROOT)))
    argv = [
        {
            str(PROJECT_ROOT / "dist" / "spacegraph.nq"): str(linked_build / "spacegraph.nq"),
            "8000": str(port),
            "/var/log/spacegraph/access.log": str(tmp_path / "access.log"),
        }.get(arg, arg)
        for arg in argv
    ]
    assert argv[0] == str(PROJECT_ROOT / ".venv" / "bin" / "spacegraph") and argv[1] == "serve"
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/ready", process, seconds=60)  # type: ignore[arg-type]
        page = httpx.get(f"http://127.0.0.1:{port}/id/jaxa", headers={"Accept": "text/turtle"})
        assert page.headers["location"] == "https://spacegraph.example.org/id/jaxa.ttl"  # its --public-url
        process.send_signal(signal.SIGTERM)  # KillSignal=, as `systemctl stop` sends it
        stop_seconds = int(next(v for k, v in (line.split("=", 1) for line in text.splitlines() if "=" in line)
                                if k == "TimeoutStopSec"))  # fmt: skip
        # uvicorn re-raises SIGTERM once it has shut down gracefully: systemd counts that exit as clean
        assert process.wait(timeout=stop_seconds) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert '"path": "/id/jaxa"' in (tmp_path / "access.log").read_text()
