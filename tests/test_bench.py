"""The benchmark harness end to end with tiny bounds: three real servers on 127.0.0.1, the whole query mix,
a table and its CSV and Markdown files, no errors, positive figures; and the generator's determinism."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
from bench.generate import generate
from bench.mix import MIX

ROOT = Path(__file__).resolve().parents[1]


def test_the_benchmark_runs_end_to_end(nquads: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--data", str(nquads), "--label", "tiny", "--output", str(tmp_path)]
    bounds = ["--requests", "5", "--latency-seconds", "0.3", "--throughput-seconds", "0.5", "--concurrency", "2"]
    done = subprocess.run([*command, *bounds], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "geometric mean" in done.stdout
    lines = (tmp_path / "tiny.csv").read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    assert any("machine: " in line and "cores" in line for line in header)
    assert any("rdflib-endpoint" in line and "pyoxigraph" in line and "Python" in line for line in header)
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    queries = [q.name for q in MIX if not q.page]
    expected = {(server, q) for server in ("spacegraph", "oxigraph", "rdflib-endpoint") for q in queries}
    assert {(row["server"], row["query"]) for row in rows} == expected | {("spacegraph", "page /id/jaxa.html")}
    for row in rows:
        assert row["errors"] == "0", row
        for column in ("size", "c1_requests", "c1_median_ms", "c1_p95_ms", "c8_answers", "c8_per_s", "rss_mib"):
            assert float(row[column]) > 0, (column, row)
        assert float(row["first_answer_s"]) > 0
    sizes = {(row["server"], row["query"]): row["size"] for row in rows}
    for q in queries:  # every server gives the same number of rows (or triples, or the same boolean)
        assert sizes["spacegraph", q] == sizes["oxigraph", q] == sizes["rdflib-endpoint", q], q
    markdown = (tmp_path / "tiny.md").read_text(encoding="utf-8")
    assert "| server | query |" in markdown and "geometric mean" in markdown


def test_the_generator_is_deterministic_and_exact(nquads: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.nq", tmp_path / "b.nq"
    assert generate(5000, first, seed=3, real=nquads) == 5000
    generate(5000, second, seed=3, real=nquads)
    assert first.read_bytes() == second.read_bytes()
    store = ox.Store()
    store.bulk_load(path=first, format=ox.RdfFormat.N_QUADS)
    assert len(store) == 5000  # no duplicate quads
    graphs = {str(graph) for graph in store.named_graphs()}
    assert {f"<https://w3id.org/spacegraph/graph/{name}>" for name in ("data", "enrichment", "ontology")} <= graphs
