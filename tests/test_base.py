"""A publisher's own domain is one setting and a rebuild: ``base`` in ``spacegraph.toml``.

A copy of the project with ``base`` set elsewhere is built and served by its own command (its ``src/``
first on the path, so the copy's setting is the one read): every IRI of the build is minted under the new
base and none under w3id.org, the competency queries give the same answers (their IRIs moved), and the
server dereferences the new IRIs, writes its pages, sitemap, queries and JSON-LD context under it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.namespaces import SOURCE_BASE
from tests.servers import free_port, wait_until_answers

OWN = "https://data.example.org/kg/"
COPIED = ("src", "ontology", "data", "metadata", "queries")


def project_copy(root: Path, setting: str) -> Path:
    for name in COPIED:
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "spacegraph.toml").write_text(setting, encoding="utf-8")
    return root


def command(root: Path, *arguments: str, **options: object) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [sys.executable, "-m", "spacegraph", *arguments],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        **options,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="module")
def rebased(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project_copy(tmp_path_factory.mktemp("own-domain"), f'base = "{OWN}"\n')
    built = command(root, "build")
    assert built.returncode == 0, built.stderr
    return root


def iris(path: Path) -> set[str]:
    found = set()
    for quad in ox.parse(path=path, format=ox.RdfFormat.N_QUADS):
        for term in (quad.subject, quad.predicate, quad.object, quad.graph_name):
            if isinstance(term, ox.NamedNode):
                found.add(term.value)
    return found


def test_every_iri_of_the_build_is_minted_under_the_base(rebased: Path, linked_build: Path) -> None:
    ours = iris(linked_build / "spacegraph.nq")
    theirs = iris(rebased / "dist" / "spacegraph.nq")
    assert not {iri for iri in theirs if iri.startswith(SOURCE_BASE)}
    moved = {OWN + iri[len(SOURCE_BASE) :] if iri.startswith(SOURCE_BASE) else iri for iri in ours}
    assert theirs == moved
    assert {OWN + "id/jaxa", OWN + "def/Meeting", OWN + "graph/data", OWN + "id/dataset"} <= theirs
    void = rebased / "dist" / "void.ttl"
    assert SOURCE_BASE not in void.read_text(encoding="utf-8")
    described = {quad.subject for quad in ox.parse(path=void, format=ox.RdfFormat.TURTLE)}
    assert ox.NamedNode(OWN + "id/dataset") in described
    assert SOURCE_BASE not in (rebased / "dist" / "spacegraph.jsonld").read_text(encoding="utf-8")
    validated = command(rebased, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_the_queries_give_the_same_answers_under_the_base(rebased: Path, linked_build: Path) -> None:
    before, after = ox.Store(), ox.Store()
    before.bulk_load(path=linked_build / "spacegraph.nq", format=ox.RdfFormat.N_QUADS)
    after.bulk_load(path=rebased / "dist" / "spacegraph.nq", format=ox.RdfFormat.N_QUADS)
    for query in sorted((PROJECT_ROOT / "queries").glob("*.rq")):
        text = query.read_text(encoding="utf-8")
        expected = before.query(text, use_default_graph_as_union=True)
        answered = after.query(text.replace(SOURCE_BASE, OWN), use_default_graph_as_union=True)
        assert isinstance(expected, ox.QuerySolutions) and isinstance(answered, ox.QuerySolutions)
        shown = sorted(str(row) for row in expected)
        assert sorted(str(row) for row in answered) == sorted(line.replace(SOURCE_BASE, OWN) for line in shown)
        assert shown, query.name  # each question has an answer


@pytest.fixture(scope="module")
def server(rebased: Path) -> Iterator[str]:
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(rebased / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "spacegraph", "serve", "--port", str(port), "--access-log", "off"],
        cwd=rebased,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url + "/ready", process)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=40)


def test_the_server_answers_the_new_iris(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        redirect = client.get("/id/jaxa", headers={"Accept": "text/turtle"})
        assert redirect.status_code == 303 and redirect.headers["location"].endswith("/id/jaxa.ttl")
        turtle = client.get("/id/jaxa.ttl").text
        assert f"<{OWN}id/jaxa>" in turtle or "@prefix id: <" + OWN + "id/>" in turtle
        assert SOURCE_BASE not in turtle
        page = client.get("/id/jaxa.html", headers={"Accept": "text/html"}).text
        assert f'<link rel="canonical" href="{OWN}id/jaxa.html"' in page and SOURCE_BASE not in page
        assert OWN + "id/jaxa.html" in client.get("/sitemap.xml").text
        context = client.get("/context.jsonld")
        assert context.status_code == 200 and OWN + "id/" in context.text and SOURCE_BASE not in context.text
        example = client.get("/sparql", params={"example": "01-who-met-in-tokyo"}, headers={"Accept": "text/html"})
        shown = unquote_plus(example.text)  # the example's run links carry the query, percent-encoded
        assert f"PREFIX id:   <{OWN}id/>" in shown and SOURCE_BASE not in shown
        answer = client.get(
            "/sparql",
            params={"query": f"ASK {{ <{OWN}id/jaxa> ?p ?o }}"},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.json()["boolean"] is True


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('base = "ftp://data.example.org/"\n', "base must be an http(s) IRI ending in '/'"),
        ('base = "https://data.example.org/kg"\n', "base must be an http(s) IRI ending in '/'"),
        ('base = "https://data.example.org/?x=1/"\n', "without a query"),
        ("base = 3\n", "base must be a string"),
        ("base = \n", "not TOML"),
    ],
)
def test_a_broken_setting_is_one_line_and_exit_2(tmp_path: Path, setting: str, message: str) -> None:
    shutil.copytree(PROJECT_ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "spacegraph.toml").write_text(setting, encoding="utf-8")
    done = command(tmp_path, "validate")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {tmp_path / 'spacegraph.toml'}: ") and message in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_a_build_under_another_base_is_not_served(rebased: Path, tmp_path: Path) -> None:
    """After changing the setting, the old build is refused until it is rebuilt, with the reason."""
    root = tmp_path / "project"
    shutil.copytree(rebased, root, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "spacegraph.toml").write_text('base = "https://other.example.org/"\n', encoding="utf-8")
    done = command(root, "serve", "--port", str(free_port()))
    assert done.returncode == 2
    assert f"built under the base {OWN}, not https://other.example.org/" in done.stderr
    assert "run `spacegraph build`" in done.stderr and "Traceback" not in done.stderr
