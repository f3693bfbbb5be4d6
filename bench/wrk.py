"""The benchmark's HTTP client: wrk (Debian package ``wrk``), written in C, so that the client is not what
limits the fastest server (Python client processes cap Oxigraph server at 2-3k requests/s on two cores,
where wrk reaches 17-28k).

Each measure is one ``wrk`` run bounded by ``-d`` (whole seconds: wrk's main thread sleeps that long
whatever its threads do), with keep-alive connections and the script ``bench/wrk.lua``: concurrency 1 is
``-t1 -c1``, the concurrent run ``-t2 -c8``. Medians and p95 come from wrk's latency distribution,
printed by the script as JSON; errors are socket errors (connect, read, write, timeout) and answers
other than 2xx.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.mix import Latency, Query, Throughput, full_url, probe


def paths_of(url: str, query: Query) -> list[str] | None:
    """The request paths of a query's variants (``mix.with_iris``), or None."""
    if not query.variants:
        return None
    return [httpx.URL(full_url(url, query, text)).raw_path.decode("ascii") for text in query.variants]


SCRIPT = Path(__file__).with_name("wrk.lua")
MARKER = "wrk-json "
_runs = itertools.count(1)  # tags the unique texts of each run, so that no two runs send the same one


class WrkError(Exception):
    """wrk is missing, failed, or printed no figures."""


def find() -> str | None:
    """The wrk executable on PATH, or None."""
    return shutil.which("wrk")


def version(executable: str) -> str:
    """``wrk -v`` prints its version first ("wrk debian/4.1.0-3+b2 [epoll] …") and exits 1."""
    try:
        output = subprocess.run([executable, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    words = (output.stdout or output.stderr).split()
    return words[1] if len(words) > 1 and words[0] == "wrk" else "unknown"


def whole_seconds(seconds: float) -> int:
    """wrk's -d and --timeout take whole seconds."""
    return max(1, math.ceil(seconds))


@dataclass(frozen=True)
class Figures:
    requests: int  # answers received, whatever their status
    non2xx: int
    socket_errors: int  # connect, read, write, timeout
    seconds: float
    median_ms: float
    p95_ms: float

    @property
    def answers(self) -> int:
        """2xx answers."""
        return self.requests - self.non2xx

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    def per_second(self) -> float:
        return self.answers / self.seconds if self.seconds > 0 else 0.0


def run(
    executable: str,
    url: str,
    accept: str,
    *,
    connections: int,
    seconds: float,
    timeout: float,
    unique: bool = False,
    paths: list[str] | None = None,
) -> Figures:
    """One wrk run against ``url`` (GET, keep-alive): ``connections`` connections on at most two threads,
    for ``seconds`` (rounded up to whole seconds, at least 1); with ``paths``, those request paths in turn."""
    threads = min(2, connections)
    command = [
        executable,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{whole_seconds(seconds)}s",
        f"--timeout={whole_seconds(timeout)}s",
        "-H",
        f"Accept: {accept}",
        "-s",
        str(SCRIPT),
        url,
        "--",
        "unique" if unique else "same",
        f"r{next(_runs)}",
    ]
    bound = whole_seconds(seconds) + whole_seconds(timeout) + 30
    with tempfile.NamedTemporaryFile("w", suffix=".paths", encoding="ascii") as listed:
        if paths:
            listed.write("\n".join(paths) + "\n")
            listed.flush()
            command.append(listed.name)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=bound)
        except subprocess.TimeoutExpired as error:
            raise WrkError(f"wrk did not stop within {bound} s") from error
        except OSError as error:
            raise WrkError(f"wrk could not run: {error}") from error
    line = next((line for line in done.stdout.splitlines() if line.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        output = (done.stderr + done.stdout).strip()[-500:]
        raise WrkError(f"wrk exited with {done.returncode} and no figures: {output}")
    figures = json.loads(line.removeprefix(MARKER))
    socket_errors = sum(int(figures[kind]) for kind in ("connect", "read", "write", "timeout"))
    answered = int(figures["requests"]) > 0
    return Figures(
        requests=int(figures["requests"]),
        non2xx=int(figures["non2xx"]),
        socket_errors=socket_errors,
        seconds=int(figures["duration_us"]) / 1e6,
        median_ms=int(figures["p50_us"]) / 1000 if answered else float("nan"),
        p95_ms=int(figures["p95_us"]) / 1000 if answered else float("nan"),
    )


class WrkClient:
    """The benchmark's client on wrk, with the interface of ``bench.mix.Clients``: three warm-up requests
    from httpx (they also give the answer's size, compared across servers), then one wrk run per measure."""

    name = "wrk"

    def __init__(self, executable: str, concurrency: int) -> None:
        self.executable = executable
        self.concurrency = concurrency
        self.version = version(executable)
        self.warm_up_s: dict[tuple[str, str], float] = {}  # (URL, query name): the median warm-up request

    def seconds(self, url: str, query: Query, wanted: float, connections: int, timeout: float) -> float:
        """``wanted``, or longer for a slow query, since wrk drops the answers still in flight when its time
        is up: three warm-up requests' time per connection, at most ``timeout``."""
        slow = 3 * self.warm_up_s.get((url, query.name), 0.0) * connections
        return max(wanted, min(slow, timeout))

    def describe(self, requests: int, latency_seconds: float, throughput_seconds: float) -> str:
        threads = min(2, self.concurrency)
        return (
            f"wrk {self.version} (`--client wrk`, script bench/wrk.lua), keep-alive connections, on the same "
            f"machine as the servers; c1: `wrk -t1 -c1 -d{whole_seconds(latency_seconds)}s` after 3 warm-up "
            "requests (httpx); concurrent run: "
            f"`wrk -t{threads} -c{self.concurrency} -d{whole_seconds(throughput_seconds)}s`; a run is lengthened "
            "for a slow query to 3 warm-up requests' time per connection (at most --timeout), since wrk drops "
            "the answers in flight when its time is up; median and p95 from wrk's latency distribution; "
            "errors: socket errors (connect, read, write, timeout) and answers other than 2xx"
        )

    def latency(self, url: str, query: Query, count: int, seconds: float, unique: bool, timeout: float) -> Latency:
        """``count`` is not used: wrk runs for whole seconds, however many answers it gets."""
        with httpx.Client(timeout=timeout) as client:
            warm = probe(client, url, query, unique)
        self.warm_up_s[url, query.name] = warm.seconds
        figures = run(
            self.executable,
            full_url(url, query),
            query.accept,
            connections=1,
            seconds=self.seconds(url, query, seconds, 1, timeout),
            timeout=timeout,
            unique=(unique or query.fresh) and not query.page,
            paths=paths_of(url, query),
        )
        return Latency(figures.answers, figures.median_ms, figures.p95_ms, warm.errors + figures.errors, warm.size)

    def throughput(self, url: str, query: Query, seconds: float, unique: bool, timeout: float) -> Throughput:
        figures = run(
            self.executable,
            full_url(url, query),
            query.accept,
            connections=self.concurrency,
            seconds=self.seconds(url, query, seconds, self.concurrency, timeout),
            timeout=timeout,
            unique=(unique or query.fresh) and not query.page,
            paths=paths_of(url, query),
        )
        return Throughput(figures.answers, figures.errors, figures.seconds)

    def close(self) -> None:
        pass
