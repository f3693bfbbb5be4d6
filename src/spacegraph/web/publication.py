"""The build the server publishes beside its SPARQL endpoint: the dump files, ``void.ttl``, ``SHA256SUMS``
and the ontology diagram that ``spacegraph build`` wrote into one folder, and the example queries.

The folder is the build the served data comes from: the folder of the served file when it holds a
build (``spacegraph serve`` serves ``dist/spacegraph.nq``, and ``dist`` links to the build folder), else,
when the server fronts a remote endpoint, the project's ``dist/``. Only the files ``SHA256SUMS`` lists
(and ``SHA256SUMS`` itself) are served: a name is looked up in that list, never joined to a path, so no
request can reach another file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from spacegraph import PROJECT_ROOT
from spacegraph.config import DIST, Config
from spacegraph.namespaces import PREFIXES, rebase_text

SUMS_FILE = "SHA256SUMS"
VOID_FILE = "void.ttl"
QUERIES = PROJECT_ROOT / "queries"
CONTEXT = PROJECT_ROOT / "ontology" / "context.jsonld"
MEDIA_TYPES = {
    ".ttl": "text/turtle",
    ".nt": "application/n-triples",
    ".nq": "application/n-quads",
    ".trig": "application/trig",
    ".jsonld": "application/ld+json",
    ".rdf": "application/rdf+xml",
    ".svg": "image/svg+xml",
    ".gz": "application/gzip",
}
SUMS_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9._-]+)$")
DCAT = PREFIXES["dcat"]
DCTERMS = PREFIXES["dcterms"]
SPDX = PREFIXES["spdx"]
URI_SPACE = ox.NamedNode(PREFIXES["void"] + "uriSpace")


def is_build(folder: Path) -> bool:
    return (folder / SUMS_FILE).is_file() and (folder / VOID_FILE).is_file()


def build_folder(config: Config) -> Path | None:
    """The folder of the build whose data is served, or None when there is none."""
    if config.data:
        first = config.data[0].resolve()
        folder = first if first.is_dir() else first.parent
        return folder if is_build(folder) else None
    dist = DIST.resolve()
    return dist if is_build(dist) else None


@dataclass(frozen=True)
class PublishedFile:
    name: str
    sha256: str
    size: int
    media_type: str
    title: str | None = None  # from void.ttl, for the dumps


class Publication:
    """The files of one build, read once: the server's data does not change while it runs."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.files: dict[str, PublishedFile] = {}
        if folder is None:
            return
        titles = distribution_titles(folder / VOID_FILE)
        for line in (folder / SUMS_FILE).read_text(encoding="ascii").splitlines():
            match = SUMS_LINE.match(line)
            if match and (folder / match.group(2)).is_file():
                name = match.group(2)
                self.files[name] = PublishedFile(
                    name, match.group(1), (folder / name).stat().st_size, media_type(name), titles.get(name)
                )

    def path(self, name: str) -> Path | None:
        """The file ``name`` (as listed in SHA256SUMS, or SHA256SUMS itself), or None."""
        if self.folder is None or (name not in self.files and name != SUMS_FILE):
            return None
        return self.folder / name

    @property
    def dumps(self) -> list[PublishedFile]:
        return [f for f in self.files.values() if f.title is not None]


def media_type(name: str) -> str:
    if name == SUMS_FILE:
        return "text/plain; charset=utf-8"
    suffix = Path(name).suffix
    return MEDIA_TYPES.get(suffix, "application/octet-stream")


def distribution_titles(void: Path) -> dict[str, str]:
    """Each dump file's English title (``dcterms:title``) from the VoID/DCAT description."""
    titles: dict[str, str] = {}
    store = ox.Store()
    store.bulk_load(path=void, format=ox.RdfFormat.TURTLE)
    query = f"""PREFIX dcat: <{DCAT}> PREFIX dcterms: <{DCTERMS}>
SELECT ?url ?title WHERE {{
  ?distribution a dcat:Distribution ; dcat:downloadURL ?url ; dcterms:title ?title FILTER(lang(?title) = "en")
}}"""
    results = store.query(query)
    assert isinstance(results, ox.QuerySolutions)
    for row in results:
        url, title = row["url"], row["title"]
        if isinstance(url, ox.NamedNode) and isinstance(title, ox.Literal):
            titles[url.value.rsplit("/", 1)[-1]] = title.value
    return titles


# --- The example (competency) queries -------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    name: str  # the file name without .rq: "01-who-met-in-tokyo"
    question: str  # the first comment line
    explanation: str  # the other comment lines at the top
    text: str


def read_examples(folder: Path = QUERIES) -> list[Example]:
    """``queries/*.rq``, each opening with its question as a comment line."""
    examples: list[Example] = []
    for path in sorted(folder.glob("*.rq")):
        text = rebase_text(path.read_text(encoding="utf-8"))  # the queries are written under SOURCE_BASE
        comments: list[str] = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            comments.append(line.lstrip("#").strip())
        question = comments[0] if comments else path.stem
        examples.append(Example(path.stem, question, " ".join(comments[1:]), text))
    return examples


def built_base(folder: Path) -> str | None:
    """The base a build minted its IRIs under: its dataset's ``void:uriSpace`` in ``void.ttl``; None when
    the folder holds no description to say so."""
    void = folder / VOID_FILE
    if not void.is_file():
        return None
    try:
        for quad in ox.parse(path=void, format=ox.RdfFormat.TURTLE):
            if quad.predicate == URI_SPACE and quad.subject.value.endswith("id/dataset"):
                return str(quad.object.value)
    except (SyntaxError, OSError):
        return None
    return None
