"""Reconciliation, measured: spacegraph's ``/reconcile`` beside ``csv-reconcile`` (PyPI; a reconciliation
service backed by a CSV file, Dice-coefficient scoring) serving our labels, on the same batch of names,
in the same run. Prints answers per second and how many each gets right, and exits 1 on an error.

    .venv/bin/python -m bench.reconcile                 # 5 s of batches per server
    .venv/bin/python -m bench.reconcile --seconds 20

The names are every label and alternative label (English, French, Japanese) of our entities that names
one entity only, and two variants of each (lower case, and hyphens as spaces: "hayabusa 2"); the right
answer is that entity. csv-reconcile's CSV has one row per label (its id column must be unique, so the
ids are ``entity~n``, read back as ``entity``). Both are sent the same batches of 10 queries (OpenRefine's
batch size), POSTed as forms one after the other on one keep-alive connection, for ``--seconds``; both
run with their default settings (spacegraph: ``spacegraph serve``; csv-reconcile: ``csv-reconcile serve``,
Flask's threaded server, its default limit of 10 candidates and threshold of 30).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import free_port
from spacegraph.names import normalise
from spacegraph.publish.graph import Sources, load

BIN = Path(sys.executable).parent
ID = "https://w3id.org/spacegraph/id/"
LABELS = ("http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#altLabel")
BATCH = 10


def names_and_answers() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(name, entity) for the batch, and (csv id, label) rows for csv-reconcile."""
    store = load(Sources.in_project()).store
    by_name: dict[str, set[str]] = {}
    labels: dict[str, list[str]] = {}
    for predicate in LABELS:
        for quad in store.quads_for_pattern(None, __import__("pyoxigraph").NamedNode(predicate), None):
            subject = quad.subject.value
            if not subject.startswith(ID) or "#" in subject or subject.startswith(ID + "quote/"):
                continue
            entity = subject.removeprefix(ID)
            labels.setdefault(entity, [])
            if quad.object.value not in labels[entity]:
                labels[entity].append(quad.object.value)
            by_name.setdefault(normalise(quad.object.value), set()).add(entity)
    batch: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entity in sorted(labels):
        for label in labels[entity]:
            if len(by_name[normalise(label)]) != 1:
                continue  # a name two entities share has no one right answer
            for variant in (label, label.lower(), label.replace("-", " ")):
                if variant not in seen:
                    seen.add(variant)
                    batch.append((variant, entity))
    rows = [(f"{entity}~{n}", label) for entity in sorted(labels) for n, label in enumerate(labels[entity])]
    return batch, rows


@dataclass
class Result:
    server: str
    names: int
    right: int
    matched_right: int
    matched_wrong: int
    answers: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.answers / self.seconds


def measure(server: str, url: str, batch: list[tuple[str, str]], seconds: float) -> Result:
    chunks = [batch[i : i + BATCH] for i in range(0, len(batch), BATCH)]
    right = matched_right = matched_wrong = answers = 0
    first_round = True
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        while first_round or time.perf_counter() - started < seconds:
            for chunk in chunks:
                queries = {f"q{i}": {"query": name} for i, (name, _) in enumerate(chunk)}
                response = client.post(url, data={"queries": json.dumps(queries, ensure_ascii=False)})
                if response.status_code != 200:
                    raise SystemExit(f"{server} answered {response.status_code}: {response.text[:200]}")
                answer = response.json()
                answers += len(chunk)
                if not first_round:
                    continue
                for i, (_, expected) in enumerate(chunk):
                    result = answer[f"q{i}"]["result"]
                    top = str(result[0]["id"]).split("~")[0] if result else None
                    right += top == expected
                    matches = [str(c["id"]).split("~")[0] for c in result if c.get("match")]
                    matched_right += expected in matches
                    matched_wrong += any(m != expected for m in matches)
            first_round = False
        elapsed = time.perf_counter() - started
    return Result(server, len(batch), right, matched_right, matched_wrong, answers, elapsed)


def wait(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


@contextmanager
def running(command: list[str], url: str, cwd: Path | None = None) -> Iterator[None]:
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(url, process)
        httpx.get(url, timeout=30)  # the first answer builds the catalogue: not part of the measure
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run(seconds: float) -> list[Result]:
    batch, rows = names_and_answers()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as folder:
        work = Path(folder)
        nquads = work / "spacegraph.nq"
        import pyoxigraph as ox

        nquads.write_bytes(ox.serialize(load(Sources.in_project()).store, format=ox.RdfFormat.N_QUADS) or b"")
        port = free_port()
        command = [str(BIN / "spacegraph"), "serve", "--data", str(nquads), "--port", str(port)]
        url = f"http://127.0.0.1:{port}/reconcile"
        with running(command, url):
            results.append(measure("spacegraph /reconcile", url, batch, seconds))
        table = work / "labels.tsv"
        with table.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["key", "name"])
            writer.writerows(rows)
        port = free_port()
        config = work / "reconcile.cfg"
        config.write_text(
            f"SERVER_NAME = '127.0.0.1:{port}'\nCSVKWARGS = {{'delimiter': '\\t'}}\nCSVENCODING = 'utf-8'\n",
            encoding="utf-8",
        )
        init = [str(BIN / "csv-reconcile"), "init", "--config", str(config), str(table), "key", "name"]
        subprocess.run(init, cwd=work, check=True, capture_output=True, timeout=120)
        url = f"http://127.0.0.1:{port}/reconcile"
        with running([str(BIN / "csv-reconcile"), "serve"], url, cwd=work):
            results.append(measure("csv-reconcile", url, batch, seconds))
    return results


def render(results: list[Result]) -> str:
    ours = results[0]
    lines = [
        f"{ours.names} names, batches of {BATCH}, one connection, {ours.seconds:.1f} s or more each",
        "| server | right first | match: true, right | match: true, wrong | answers/s | ÷ spacegraph |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.server} | {r.right}/{r.names} ({100 * r.right / r.names:.1f}%) | {r.matched_right} | "
            f"{r.matched_wrong} | {r.per_second:,.0f} | {r.per_second / ours.per_second:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="Seconds of batches per server (at least one round)."
    )
    arguments = parser.parse_args(argv)
    print(render(run(arguments.seconds)))


if __name__ == "__main__":
    main()
