"""`spacegraph validate`, driven as a user drives it, and the same verdicts from a second SHACL engine.

Each file in tests/data/broken/shape-*.ttl adds a few statements to the real data that break exactly
one shape; its header names the shape, the focus node and the message expected.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from spacegraph import PROJECT_ROOT
from spacegraph.cli import main
from spacegraph.namespaces import DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH, PREFIXES, SHAPES_GRAPH
from spacegraph.publish.graph import Sources, load

BROKEN = PROJECT_ROOT / "tests" / "data" / "broken"
SHAPE_FIXTURES = sorted(BROKEN.glob("shape-*.ttl"))
SPACEGRAPH = [str(Path(sys.executable).parent / "spacegraph")]  # the installed console script


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str | Path) -> Run:
    """The CLI in-process (CliRunner), from the project folder, as a user at the shell would call it."""
    with contextlib.chdir(PROJECT_ROOT):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def expectations(path: Path) -> dict[str, str]:
    found = dict(re.findall(r"^# expect-(\w+): (.*)$", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert set(found) == {"shape", "focus", "message"}, f"{path.name} lacks an expect- header"
    return found


def findings(output: str) -> set[tuple[str, str]]:
    """(focus, source shape) of every finding in a rendered report."""
    return set(re.findall(r"^  focus:  (.*)\n(?:  (?:path|value):  .*\n)*  source: (.*)$", output, re.MULTILINE))


def expand(name: str) -> str:
    if name.startswith("<"):
        return name[1:-1]
    prefix, local = name.split(":", 1)
    return PREFIXES[prefix] + local


def test_the_project_data_conforms() -> None:
    """Through the installed entry point, in a process of its own."""
    result = subprocess.run(
        [*SPACEGRAPH, "validate"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("Conforms. 0 violation(s), 0 warning(s), 0 info.")
    assert result.stderr == ""


def test_every_shape_has_a_broken_fixture() -> None:
    shapes = load(Sources.in_project()).store
    targeted = {
        q.subject.value
        for q in shapes.quads_for_pattern(None, None, None, SHAPES_GRAPH)
        if q.predicate.value.startswith("http://www.w3.org/ns/shacl#target")
    }
    covered = {expand(expectations(path)["shape"]) for path in SHAPE_FIXTURES}
    assert targeted - covered == set()


@pytest.mark.parametrize("fixture", SHAPE_FIXTURES, ids=lambda p: p.stem)
def test_a_broken_fixture_fails_with_its_message(fixture: Path) -> None:
    expected = expectations(fixture)
    result = run("validate", "data", fixture.relative_to(PROJECT_ROOT))
    assert result.returncode == 1, result.stdout + result.stderr
    assert findings(result.stdout) == {(expected["focus"], expected["shape"])}, result.stdout
    assert f"Violation: {expected['message']}\n" in result.stdout


# Where the engines agree on the verdict but not on the words (see README, "Validation"):
# rdf-validate-shacl 0.6 lets a constraint's own message win over the shape's sh:message for
# sh:uniqueLang (validators.js returns a message, which createResultMessages prefers), while the SHACL
# spec and pyshacl use the shape's sh:message.
KNOWN_MESSAGE_DIFFERENCES = {"shape-labelled-two-english-labels": 'Language "en" has been used by 2 values'}


def write_ntriples(path: Path, quads: list[ox.Quad]) -> None:
    with path.open("wb") as handle:
        ox.serialize([q.triple for q in quads], handle, format=ox.RdfFormat.N_TRIPLES)


def test_rdf_validate_shacl_gives_the_same_verdicts(tmp_path: Path) -> None:
    """Zazuko's rdf-validate-shacl (npm) on the project data and on every broken fixture."""
    cases = [("project", (PROJECT_ROOT / "data",))] + [(f.stem, (PROJECT_ROOT / "data", f)) for f in SHAPE_FIXTURES]
    shapes_file = tmp_path / "shapes.nt"
    data_files = []
    for name, data in cases:
        loaded = load(Sources.in_project(data=data))
        if name == "project":
            write_ntriples(shapes_file, list(loaded.quads(SHAPES_GRAPH)))
        data_files.append(tmp_path / f"{name}.nt")
        write_ntriples(data_files[-1], list(loaded.quads(DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH)))
    node = subprocess.run(
        ["node", "tests/node/shacl.mjs", str(shapes_file), *map(str, data_files)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reports = [json.loads(line) for line in node.stdout.splitlines()]
    assert len(reports) == len(cases)
    project, *broken = reports
    assert project["conforms"] is True, project["results"]
    for fixture, report in zip(SHAPE_FIXTURES, broken, strict=True):
        expected = expectations(fixture)
        assert report["conforms"] is False, fixture.name
        assert {r["focus"] for r in report["results"]} == {expand(expected["focus"])}, (fixture.name, report["results"])
        messages = {m for r in report["results"] for m in r["messages"]}
        assert KNOWN_MESSAGE_DIFFERENCES.get(fixture.stem, expected["message"]) in messages, (fixture.name, messages)


def test_a_syntax_error_gives_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix id: <https://w3id.org/spacegraph/id/> .\nid:a id:b "unterminated .\n', encoding="utf-8")
    result = run("validate", "data", bad)
    assert result.returncode == 2
    assert re.fullmatch(rf"error: {re.escape(str(bad))}:2:\d+: .+\n", result.stderr), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_an_unknown_prefix_is_named_with_its_place(tmp_path: Path) -> None:
    bad = tmp_path / "prefix.ttl"
    bad.write_text("@prefix id: <https://w3id.org/spacegraph/id/> .\n\nid:a sgg:label id:b .\n", encoding="utf-8")
    result = run("validate", "data", bad)
    assert result.returncode == 2
    assert result.stderr == f"error: {bad}:3:6: The prefix sgg: has not been declared\n"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = run("validate", tmp_path / "nowhere.ttl")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nowhere.ttl'}: no such file or folder\n"


INTEGRITY = """@prefix id: <https://w3id.org/spacegraph/id/> .
@prefix sg: <https://w3id.org/spacegraph/def/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

id:tokyo-meeting-2016-07-22 sg:participant id:naoki-okumra .
id:cnes-jaxa-meeting-2015-10 sg:locaton id:tokyo .
id:cop21 sg:date "2015-11-31"^^xsd:date .
"""


def test_misspellings_and_invalid_literals_are_caught_with_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "typos.ttl"
    bad.write_text(INTEGRITY, encoding="utf-8")
    result = run("validate", "data", bad)
    assert result.returncode == 1
    out = result.stdout
    assert "id:naoki-okumra is used but never described (it has no rdf:type); did you mean id:naoki-okumura?" in out
    assert "sg:locaton is not defined in the ontology; did you mean sg:location?" in out
    assert '"2015-11-31" is not a valid xsd:date' in out
    assert f"  at:     {bad}:5\n" in out and f"  at:     {bad}:6\n" in out and f"  at:     {bad}:7\n" in out
    assert "Traceback" not in result.stderr
