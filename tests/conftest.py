"""Shared fixtures: the project's sources, loaded once, and the press release text they quote."""

from __future__ import annotations

import os
from pathlib import Path

import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.publish.graph import LoadedGraph, Sources, load
from tests.support import reference_store, write_nquads

# The press release is public but not ours to republish whole, so it is not in the repository: it sits
# in the shared seeds folder beside the checkout (CI lays it out the same way), or where
# SPACEGRAPH_SOURCE_TEXT points.
SOURCE_TEXT = Path(
    os.environ.get("SPACEGRAPH_SOURCE_TEXT", PROJECT_ROOT.parent / "shared" / "seeds" / "000_37dae108a39b91bb.txt")
)


@pytest.fixture(scope="session")
def loaded() -> LoadedGraph:
    return load(Sources.in_project())


@pytest.fixture(scope="session")
def nquads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's graph as the endpoint serves it (named graphs kept), in N-Quads; written once."""
    return write_nquads(tmp_path_factory.mktemp("graph") / "spacegraph.nq")


@pytest.fixture(scope="session")
def reference(nquads: Path) -> ox.Store:
    """The same graph in a pyoxigraph store of this process: the answers every endpoint must match."""
    return reference_store(nquads)


@pytest.fixture(scope="session")
def source_bytes() -> bytes:
    if not SOURCE_TEXT.is_file():
        pytest.fail(f"the press release text is needed at {SOURCE_TEXT} (or set SPACEGRAPH_SOURCE_TEXT)")
    return SOURCE_TEXT.read_bytes()


@pytest.fixture(scope="session")
def linked_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build of the project (``spacegraph build``) in a temporary folder: the folder it published,
    holding spacegraph.nq, void.ttl, SHA256SUMS and ontology.svg, as the server finds them beside its data."""
    from spacegraph.publish import dumps

    out = tmp_path_factory.mktemp("linked") / "dist"
    result = dumps.build(
        Sources.in_project(),
        out,
        description=PROJECT_ROOT / "metadata" / "dataset.ttl",
        context=PROJECT_ROOT / "ontology" / "context.jsonld",
    )
    return result.folder
