"""Loading the graph a query worker evaluates against (``workers.load_store``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox

from spacegraph import PROJECT_ROOT
from spacegraph.engine.workers import load_store

SCAN = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"


def scan_in_a_new_process(path: Path) -> str:
    """A whole scan of the graph, as a fresh worker process would answer it (its own hash seeds)."""
    code = (
        "import sys\nfrom spacegraph.engine.workers import load_store\n"
        f"store = load_store([{str(path)!r}])\n"
        f"for row in store.query({SCAN!r}):\n    print(*row)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    return done.stdout


def test_blank_nodes_keep_their_labels_and_every_load_scans_in_the_same_order(tmp_path: Path) -> None:
    path = tmp_path / "g.nq"
    path.write_text(
        "_:c14n0 <http://example.org/p> _:c14n1 <http://example.org/g> .\n"
        '_:c14n1 <http://example.org/p> "x" <http://example.org/g> .\n'
        + "".join(
            f"<http://example.org/s{i}> <http://example.org/p> _:b{i} <http://example.org/h> .\n" for i in range(50)
        )
    )
    store = load_store([str(path)])
    subjects = {
        quad.subject for quad in store.quads_for_pattern(None, None, None, ox.NamedNode("http://example.org/g"))
    }
    assert subjects == {ox.BlankNode("c14n0"), ox.BlankNode("c14n1")}
    assert ox.Quad(ox.BlankNode("c14n1"), ox.NamedNode("http://example.org/p"), ox.Literal("x")) in store  # union
    first, second = scan_in_a_new_process(path), scan_in_a_new_process(path)
    assert first == second and first.count("\n") == 52 and "_:b7" in first


def test_several_files_keep_their_blank_nodes_apart(tmp_path: Path) -> None:
    one, two = tmp_path / "one.nt", tmp_path / "two.ttl"
    one.write_text('_:b0 <http://example.org/name> "one" .\n')
    two.write_text('_:b0 <http://example.org/name> "two" .\n')
    store = load_store([str(one), str(two)])
    names = {(quad.subject, quad.object.value) for quad in store.quads_for_pattern(None, None, None, None)}
    assert names == {(ox.BlankNode("f0b0"), "one"), (ox.BlankNode("f1b0"), "two")}
