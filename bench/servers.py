"""The three servers under test, each started as its own process on a free port of 127.0.0.1 with the same
N-Quads, timed from the command to the first answer with the data loaded, and stopped at the end."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load import free_port, rss_kib

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
NAMES = ("spacegraph", "oxigraph", "rdflib-endpoint")


class BenchError(Exception):
    """A server did not start, did not answer in time, or answered badly."""


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    sparql: str
    first_answer_s: float
    log: Path
    cleanup: list[tempfile.TemporaryDirectory[str]] = field(default_factory=list)

    def rss_mib(self) -> float:
        return rss_kib(self.process.pid) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for folder in self.cleanup:
            folder.cleanup()


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float, **arguments: object) -> None:
    """Poll ``url`` until it answers 200, the process exits, or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{url}: the server exited with {process.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=5, **arguments).status_code == 200:  # type: ignore[arg-type]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise BenchError(f"{url} did not answer within {seconds} s; see {log}")


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=output, cwd=ROOT)


def start(name: str, data: Path, logs: Path, wait_s: float) -> Running:
    """Start one server on ``data`` and wait (at most ``wait_s``) for its first answer with the data."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = logs / f"{name}.log"
    ask = {"params": {"query": "ASK { ?s ?p ?o }"}}
    cleanup: list[tempfile.TemporaryDirectory[str]] = []
    begin = time.perf_counter()
    if name == "spacegraph":
        command = [str(BIN / "spacegraph"), "serve", "--data", str(data), "--port", str(port)]
        process = _spawn([*command, "--access-log", "off", "--log-level", "warning"], log)
        sparql = f"{base}/sparql"
    elif name == "oxigraph":
        folder = tempfile.TemporaryDirectory(prefix="bench-oxigraph-")
        cleanup.append(folder)
        command = [str(BIN / "oxigraph"), "serve", "--location", folder.name, "--bind", f"127.0.0.1:{port}"]
        process = _spawn([*command, "--union-default-graph"], log)
        sparql = f"{base}/query"
        try:
            _wait(f"{base}/", process, log, wait_s)
            with data.open("rb") as body:
                response = httpx.post(
                    f"{base}/store", content=body, headers={"Content-Type": "application/n-quads"}, timeout=wait_s
                )
            if response.status_code not in (200, 201, 204):
                raise BenchError(f"oxigraph: loading {data} answered {response.status_code}: {response.text[:200]}")
        except BaseException:
            process.kill()
            process.wait(timeout=10)
            folder.cleanup()
            raise
    elif name == "rdflib-endpoint":
        process = _spawn([sys.executable, "-m", "bench.rdflib_server", str(data), str(port)], log)
        sparql = f"{base}/sparql"
    else:
        raise BenchError(f"unknown server {name!r}; known: {', '.join(NAMES)}")
    running = Running(name, process, base, sparql, 0.0, log, cleanup)
    try:
        _wait(sparql, process, log, wait_s, **ask)
    except BaseException:
        running.stop()
        raise
    running.first_answer_s = time.perf_counter() - begin
    return running


def versions() -> dict[str, str]:
    """Versions of everything measured, for the header of the results."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for package in ("spacegraph", "pyoxigraph", "rdflib-endpoint", "rdflib", "uvicorn", "httpx"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    try:
        output = subprocess.run([str(BIN / "oxigraph"), "--version"], capture_output=True, text=True, timeout=10)
        found["oxigraph server"] = output.stdout.strip().removeprefix("oxigraph ").strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        found["oxigraph server"] = "unknown"
    found["Python"] = sys.version.split()[0]
    return found
