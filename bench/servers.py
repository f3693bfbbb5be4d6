"""The configurations under test, each started as its own process on a free port of 127.0.0.1 with the same
N-Quads, timed from the command to the first answer with the data loaded, and stopped at the end:

- ``SPACEGRAPH``: ``spacegraph serve --data`` (one server process, its two query workers);
- ``NO_LOG``: the same with ``--access-log off``, to tell what the default access log costs;
- ``TWO_WORKERS``: the same with ``--workers 2`` (two server processes, each with two query workers);
- ``OXIGRAPH``: Oxigraph server, the N-Quads POSTed to its ``/store``;
- ``FRONTED``: ``spacegraph serve --endpoint`` in front of that Oxigraph server (the extra hop);
- ``RDFLIB``: rdflib-endpoint (``bench/rdflib_server.py``).

Every spacegraph runs with its default flags (the access log included, to the log file): what users run.
wrk's connections all come from 127.0.0.1, one client address, whose evaluations take their turns
(``engine/scheduler.py``) instead of being refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load import free_port, pss_kib

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
SPACEGRAPH = "spacegraph"
NO_LOG = "spacegraph, no log"
TWO_WORKERS = "spacegraph×2"  # noqa: RUF001 (the sign is meant)
OXIGRAPH = "oxigraph"
FRONTED = "spacegraph→oxigraph"
RDFLIB = "rdflib-endpoint"
NAMES = (SPACEGRAPH, NO_LOG, TWO_WORKERS, OXIGRAPH, FRONTED, RDFLIB)  # the order of the runs
DEFAULT = (SPACEGRAPH, NO_LOG, OXIGRAPH, FRONTED, RDFLIB)  # what ``python -m bench`` runs
ALIASES = {"spacegraph-x2": TWO_WORKERS, "spacegraph-oxigraph": FRONTED, "spacegraph-no-log": NO_LOG}  # --servers
SLUGS = {TWO_WORKERS: "spacegraph-x2", FRONTED: "spacegraph-oxigraph", NO_LOG: "spacegraph-no-log"}  # file names
SPACEGRAPH_OPTIONS: list[str] = []  # default flags


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
    upstream: Running | None = None  # the store it fronts, started and stopped apart

    def rss_mib(self) -> float:
        """Memory of its process tree (proportional set size: shared pages counted once), and of the store
        it fronts."""
        own = pss_kib(self.process.pid) / 1024
        return own + (self.upstream.rss_mib() if self.upstream else 0.0)

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


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the process and its descendants, in seconds (Linux /proc)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
        pending += [int(child) for child in children]
    return total / os.sysconf("SC_CLK_TCK")


def settle(process: subprocess.Popen[bytes], seconds: float, window: float = 0.5, share: float = 0.1) -> bool:
    """Wait (at most ``seconds``) until the process tree uses under ``share`` of a core over ``window``
    seconds: after the first answer, other processes (the second server process of ``--workers 2``, a
    second query worker) may still be loading the graph. False if it never did."""
    deadline = time.monotonic() + seconds
    before = _cpu_seconds(process.pid)
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(window)
        after = _cpu_seconds(process.pid)
        if after - before < share * window:
            return True
        before = after
    return False


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=output, cwd=ROOT)


def start(name: str, data: Path, logs: Path, wait_s: float, upstream: Running | None = None) -> Running:
    """Start one configuration on ``data`` and wait (at most ``wait_s``) for its first answer with the
    data; ``spacegraph→oxigraph`` fronts ``upstream``, a running Oxigraph server already holding it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = logs / f"{SLUGS.get(name, name)}.log"
    ask = {"params": {"query": "ASK { ?s ?p ?o }"}}
    cleanup: list[tempfile.TemporaryDirectory[str]] = []
    begin = time.perf_counter()
    serve = [str(BIN / "spacegraph"), "serve", "--port", str(port), *SPACEGRAPH_OPTIONS]
    sparql = f"{base}/sparql"
    if name == SPACEGRAPH:
        process = _spawn([*serve, "--data", str(data)], log)
    elif name == NO_LOG:
        process = _spawn([*serve, "--data", str(data), "--access-log", "off"], log)
    elif name == TWO_WORKERS:
        process = _spawn([*serve, "--data", str(data), "--workers", "2"], log)
    elif name == FRONTED:
        if upstream is None or upstream.name != OXIGRAPH:
            raise BenchError(f"{FRONTED} needs a running Oxigraph server")
        process = _spawn([*serve, "--endpoint", upstream.sparql], log)
    elif name == OXIGRAPH:
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
    elif name == RDFLIB:
        process = _spawn([sys.executable, "-m", "bench.rdflib_server", str(data), str(port)], log)
    else:
        raise BenchError(f"unknown server {name!r}; known: {', '.join(NAMES)}")
    running = Running(name, process, base, sparql, 0.0, log, cleanup, upstream if name == FRONTED else None)
    try:
        _wait(sparql, process, log, wait_s, **ask)
    except BaseException:
        running.stop()
        raise
    running.first_answer_s = time.perf_counter() - begin
    settle(process, wait_s)
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
