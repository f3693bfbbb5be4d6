"""Triple Pattern Fragments, and Quad Pattern Fragments for the named graphs, at ``/fragments``.

A fragment is every triple (or quad) of the graph that matches one pattern (``pattern.py``: the
parameters ``subject``, ``predicate``, ``object`` and ``graph``), cut into pages of
``fragment_page_size`` (``page=2``…), with the number of matches and the controls a client follows: the
dataset's ``hydra:search`` form (the URI template and its mappings to ``rdf:subject``, ``rdf:predicate``,
``rdf:object`` and ``sd:graph``), ``hydra:first``, ``previous``, ``next`` and, when the count is exact,
``last``. A client such as Comunica, given only ``/fragments``, evaluates whole SPARQL queries with them;
the server only ever matches one pattern and returns one page, so no request can be made expensive.

Each answer has the shape the LDF server (Server.js) gives and Comunica 4 reads: in TriG, N-Quads and
JSON-LD the metadata and controls sit in their own graph (``…#metadata``, whose ``foaf:primaryTopic`` is
the fragment), the data in its named graphs; in Turtle, N-Triples and RDF/XML everything is triples.
``sd:defaultGraph <urn:ldf:defaultGraph>`` tells a QPF client what to ask for the default graph (the
union of the named graphs, as at ``/sparql``). A browser gets an HTML page with the form and the matches.

The count (``void:triples``, which the TPF specification defines as an estimate) is exact where it is
cheap, and then also given as ``hydra:totalItems``: the sizes of the graphs and of each predicate's
triples (both counted once and kept), and any pattern's matches up to ``COUNT_LIMIT`` (a count that
stops there). Past that it is an estimate — the exact count of the smallest of those sets holding the
matches — and the fragment says so in an ``rdfs:comment``. A page is one query: the pattern, an OFFSET
and a LIMIT of one page (plus one row, to know whether a next page exists), evaluated like every other
query: by the same backend, within the same time limit, with ETags, the answer cache, the access log
and the metrics; its order is the store's index order, the same in every worker, so paging reaches
every match exactly once. A page walks the matches before it, so pages past the first ``MAX_DEPTH``
matches are refused (400, saying why). The page's N-Quads and N-Triples are written as text from the
worker's TSV answer.

The request limits hold as for every route, and each page's evaluation is scheduled fairly as its
client's (``engine/scheduler.py``), like a query's: Comunica has up to 9 pages in flight at once
answering the competency queries; past the client's share they wait their turn instead of being refused,
which matters because Comunica does not retry a 429.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyoxigraph as ox
from fastapi import APIRouter, Request
from starlette.responses import Response

from spacegraph.config import Config
from spacegraph.engine.analysis import analyse
from spacegraph.engine.store import Answer, Backend, Job, QueryError, Summary
from spacegraph.formats import RDF_FORMATS, RdfFormat, by_name, media_types
from spacegraph.namespaces import PREFIXES
from spacegraph.web.accesslog import ANALYSIS
from spacegraph.web.caches import LruCache
from spacegraph.web.conneg import negotiate
from spacegraph.web.deref import BackendDependency, epoch, prefers_html, shared_pages
from spacegraph.web.pages.chrome import Chrome, Site, choose_language
from spacegraph.web.pages.fragments import fragment_page
from spacegraph.web.pattern import DEFAULT_GRAPH, POSITIONS, VARIABLES, Pattern, PatternError
from spacegraph.web.sparql import RDF_ALIASES, bad_request, matches, plain, query_failed

if TYPE_CHECKING:
    from spacegraph.web.sparql import SparqlRouter

COUNT_LIMIT = 10_000  # matches a count query goes through before it stops and the count becomes an estimate
MAX_DEPTH = 100_000  # matches a page may start after: deeper pages are refused (a page walks past its offset)
PARAMETERS = (*POSITIONS, "page", "format", "lang")

HYDRA = "http://www.w3.org/ns/hydra/core#"
VOID = "http://rdfs.org/ns/void#"
SD = "http://www.w3.org/ns/sparql-service-description#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
DCTERMS = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_INTEGER = ox.NamedNode(XSD + "integer")
XSD_BOOLEAN = ox.NamedNode(XSD + "boolean")
MAPPED = {"subject": RDF + "subject", "predicate": RDF + "predicate", "object": RDF + "object", "graph": SD + "graph"}
FRAGMENT_PREFIXES = {"hydra": HYDRA, "sd": SD, **PREFIXES}
PREDICATES_QUERY = "SELECT ?g ?p (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ?p"


@dataclass(frozen=True)
class Count:
    value: int
    exact: bool


Match = tuple[str, str | None]  # a match in N-Quads: its triple ("<s> <p> <o>") and its graph (None: default)


def nquad(match: Match) -> str:
    triple, graph = match
    return f"{triple} {graph} .\n" if graph is not None else f"{triple} .\n"


@dataclass(frozen=True)
class Page:
    """One page of a fragment: its matches, whether more follow, the fragment's count."""

    pattern: Pattern
    number: int
    size: int
    matches: list[Match]
    more: bool
    count: Count

    def quads(self) -> list[ox.Quad]:
        text = "".join(nquad(match) for match in self.matches).encode("utf-8")
        return list(ox.parse(text, format=ox.RdfFormat.N_QUADS, rename_blank_nodes=False))

    @property
    def last(self) -> int | None:
        """The last page's number, when the count is exact."""
        return max(1, math.ceil(self.count.value / self.size)) if self.count.exact else None


@dataclass(frozen=True)
class Addresses:
    """Where things are: the fragments' base URL, this page as it was asked for, the fragment's canonical
    URL (its first page), the dataset and the SPARQL endpoint."""

    base: str
    page: str
    fragment: str
    dataset: str
    endpoint: str

    def page_url(self, number: int) -> str:
        if number <= 1:
            return self.fragment
        return self.fragment + ("&" if "?" in self.fragment else "?") + f"page={number}"

    @property
    def template(self) -> str:
        return self.base + "{?" + ",".join(POSITIONS) + "}"  # as in controls()


def fragment_url(base: str, pattern: Pattern) -> str:
    query = pattern.query_string()
    return f"{base}?{query}" if query else base


def page_query(pattern: Pattern, offset: int, limit: int, count_limit: int | None) -> str:
    """One query for a page of the pattern's matches (``limit`` rows from ``offset``, in the store's order),
    and, with ``count_limit``, how many matches there are, counting no further than ``count_limit + 1``."""
    variables = " ".join(f"?{name}" for name in pattern.variables) or "*"
    where = pattern.where()
    data = f"SELECT {variables} WHERE {{ {where} }} OFFSET {offset} LIMIT {limit}"
    if count_limit is None:
        return data
    count = f"SELECT (COUNT(*) AS ?count) WHERE {{ SELECT * WHERE {{ {where} }} LIMIT {count_limit + 1} }}"
    return f"SELECT * WHERE {{ {{ {data} }} UNION {{ {count} }} }}"


def read_page(pattern: Pattern, body: bytes) -> tuple[list[Match], int | None]:
    """A page query's answer (SPARQL results in TSV) as N-Quads, without parsing a term: TSV writes terms
    as N-Triples does, but for the numbers and booleans it abbreviates. And the count, when it has one."""
    header, *rows = body.decode("utf-8").split("\n")[:-1]  # every line ends with a newline
    names = [name.removeprefix("?") for name in header.split("\t")] if header else []
    count_at = names.index("count") if "count" in names else None
    # each position: the column of its variable, or its term (None: the default graph, which N-Quads omit)
    where: list[int | str | None] = [
        names.index(VARIABLES[position]) if term is None else None if isinstance(term, ox.DefaultGraph) else str(term)
        for position, term in pattern.terms().items()
    ]
    matches: list[Match] = []
    counted: int | None = None
    for row in rows:
        cells = row.split("\t")
        if count_at is not None and cells[count_at]:
            counted = int(cells[count_at].removeprefix('"').split('"')[0])
            continue
        s, p, o, g = (ntriples(cells[at]) if isinstance(at, int) else at for at in where)
        matches.append((f"{s} {p} {o}", g))
    return matches, counted


def ntriples(cell: str) -> str:
    """A term of SPARQL TSV results in N-Triples: ``5`` is ``"5"^^xsd:integer``, ``true`` a boolean."""
    if cell[0] in '<"_':  # an IRI (or a triple term), a literal, a blank node: already so
        return cell
    if cell in ("true", "false"):
        kind = "boolean"
    else:
        kind = "double" if "e" in cell or "E" in cell else "decimal" if "." in cell else "integer"
    return f'"{cell}"^^<{XSD}{kind}>'


def graph_size(summary: Summary, graph: ox.NamedNode | ox.DefaultGraph | None) -> int:
    """Triples in the graph (the default graph: the union), or quads in all named graphs (None)."""
    if graph is None:
        return sum(info.triples for info in summary.graphs)
    if isinstance(graph, ox.DefaultGraph):
        return summary.default_triples
    return next((info.triples for info in summary.graphs if info.name == graph.value), 0)


def known_graph(summary: Summary, graph: ox.NamedNode | ox.DefaultGraph | None) -> bool:
    return not isinstance(graph, ox.NamedNode) or summary.has_graph(graph.value)


class FragmentsRouter(APIRouter):
    """``/fragments``. Answers are cached with the SPARQL router's answers (one budget), under ETags made
    the same way; counts and the predicates' sizes are kept per data epoch (``deref.epoch``)."""

    def __init__(self, config: Config, sparql: SparqlRouter) -> None:
        super().__init__()
        self.config = config
        self.sparql = sparql
        self.counts: LruCache[tuple[int, tuple[tuple[str, str], ...]], Count] = LruCache(4096)
        self.predicates: tuple[int, dict[tuple[str, str], int]] | None = None
        self.add_api_route("/fragments", self.fragment, methods=["HEAD"], include_in_schema=False)
        self.add_api_route(
            "/fragments",
            self.fragment,
            methods=["GET"],
            name="fragments",
            openapi_extra=FRAGMENTS_DOC,
            summary="Triple and Quad Pattern Fragments: the matches of one pattern, a page at a time",
        )

    async def fragment(self, request: Request, backend: BackendDependency) -> Response:
        values: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            if key in PARAMETERS and (value or key != "format"):
                if key in values:
                    return bad_request(f"more than one {key} parameter")
                values[key] = value
        try:
            pattern = Pattern.read(values)
        except PatternError as error:
            return bad_request(str(error))
        number = values.get("page", "1")
        if not number.isdigit() or int(number) < 1:
            return bad_request(f"page: {number!r} is not a page number (1, 2, …)")
        if (int(number) - 1) * self.config.fragment_page_size >= MAX_DEPTH:
            return bad_request(
                f"page: {number} starts past the first {MAX_DEPTH:,} matches, which is as deep as this server "
                "pages (each page walks the matches before it): bind one more term, or download the dumps"
            )
        chosen = self.choose_format(request, values.get("format"))
        if isinstance(chosen, Response):
            return chosen
        root = str(request.base_url)  # with the ASGI root path, as url_for would give (and faster)
        base = root + "fragments"
        addresses = Addresses(
            base=base,
            page=str(request.url),
            fragment=fragment_url(base, pattern),
            dataset=self.config.dataset_iri,
            endpoint=root + "sparql",
        )
        site: Site | None = None
        if chosen is None:
            language, explicit = choose_language(request.headers.get("accept-language"), values.get("lang"))
            site = Site(request.scope.get("root_path", ""), language, explicit)
        etag = self.sparql.etag(backend, "fragment", addresses.page, chosen.name if chosen is not None else site)
        headers = self.sparql.cache_headers(etag)
        if chosen is None and "lang" not in values:
            headers["Vary"] = "Accept, Accept-Language"
        if etag is not None and matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        answer = self.sparql.cache.get(etag) if etag is not None else None
        if answer is None:
            try:
                page = await self.page(request, backend, pattern, int(number))
                summary = await backend.summary()
            except QueryError as error:
                return query_failed(error, self.config.timeout)
            if chosen is None:
                assert site is not None
                model = fragment_page(page, addresses, summary, site)
                chrome = Chrome.of(site, model.title, "/fragments", values)
                body = shared_pages().render("fragments.html", chrome, page=model).encode("utf-8")
            else:
                body = write(page, addresses, chosen)
            answer = Answer(chosen.media_type if chosen else "text/html; charset=utf-8", body, len(page.matches))
            if etag is not None:
                self.sparql.cache.put(etag, answer)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(answer.body))
            return Response(b"", media_type=answer.media_type, headers=headers)
        return Response(answer.body, media_type=answer.media_type, headers=headers)

    def choose_format(self, request: Request, name: str | None) -> RdfFormat | Response | None:
        """The RDF format to answer in, None for HTML, or the 406 answer."""
        if name is not None:
            if name.lower() == "html":
                return None
            fmt = by_name(name, RDF_FORMATS, RDF_ALIASES)
            if fmt is None:
                names = ", ".join(f.name for f in RDF_FORMATS)
                return plain(406, f"unknown format {name!r}; use one of {names}, html, or a media type")
            return fmt
        accept = request.headers.get("accept")
        if prefers_html(accept):
            return None
        fmt = negotiate(accept, RDF_FORMATS)
        if fmt is None:
            offered = f"{media_types(RDF_FORMATS)}, text/html"
            return plain(406, f"none of the accepted media types fits; fragments are offered as: {offered}")
        return fmt

    # --- a page and its count

    async def page(self, request: Request, backend: Backend, pattern: Pattern, number: int) -> Page:
        size = self.config.fragment_page_size
        offset = (number - 1) * size
        count = await self.known_count(backend, pattern)
        if count is not None and count.exact and offset >= count.value:
            return Page(pattern, number, size, [], False, count)  # past the end, or nothing: nothing to ask
        query = page_query(pattern, offset, size + 1, None if count is not None else COUNT_LIMIT)
        analysis = request.scope[ANALYSIS] = analyse(query)
        answer = await backend.query(Job(analysis, results_format="tsv", max_rows=size + 2))
        matches, counted = read_page(pattern, answer.body)
        if count is None:
            assert counted is not None
            count = Count(counted, True) if counted <= COUNT_LIMIT else await self.estimate(backend, pattern)
            self.counts.put((epoch(backend), tuple(pattern.parameters())), count)
        return Page(pattern, number, size, matches[:size], len(matches) > size, count)

    async def known_count(self, backend: Backend, pattern: Pattern) -> Count | None:
        """The pattern's count when it is known without counting its matches: kept from an earlier page,
        or the size of a whole graph (all positions variable, or an unknown graph: 0)."""
        kept = self.counts.get((epoch(backend), tuple(pattern.parameters())))
        if kept is not None:
            return kept
        summary = await backend.summary()
        if not known_graph(summary, pattern.graph):
            return Count(0, True)
        if pattern.subject is None and pattern.predicate is None and pattern.object is None:
            return Count(graph_size(summary, pattern.graph), True)
        return None

    async def estimate(self, backend: Backend, pattern: Pattern) -> Count:
        """The count of a pattern with more than ``COUNT_LIMIT`` matches: exact for a predicate in one named
        graph or in all of them (from the predicates' sizes); otherwise the exact count of the smallest
        known set that holds the matches (the graph, the predicate's triples), an estimate."""
        bounds = [graph_size(await backend.summary(), pattern.graph)]
        if pattern.predicate is not None:
            sizes = await self.predicate_sizes(backend)
            predicate = pattern.predicate.value
            if isinstance(pattern.graph, ox.NamedNode):
                bounds.append(sizes.get((pattern.graph.value, predicate), 0))
            else:
                bounds.append(sum(n for (_, p), n in sizes.items() if p == predicate))
            if pattern.subject is None and pattern.object is None and not isinstance(pattern.graph, ox.DefaultGraph):
                return Count(bounds[-1], True)
        return Count(max(min(bounds), COUNT_LIMIT + 1), False)

    async def predicate_sizes(self, backend: Backend) -> dict[tuple[str, str], int]:
        """Quads per named graph and predicate, counted once per data epoch (one scan of the graph)."""
        now = epoch(backend)
        if self.predicates is None or self.predicates[0] != now:
            answer = await backend.query(Job(analyse(PREDICATES_QUERY), results_format="json"))
            results = ox.parse_query_results(answer.body, format=ox.QueryResultsFormat.JSON)
            assert isinstance(results, ox.QuerySolutions)
            sizes = {}
            for solution in results:
                graph, predicate, n = solution["g"], solution["p"], solution["n"]
                if isinstance(graph, ox.NamedNode) and isinstance(predicate, ox.NamedNode) and n is not None:
                    sizes[graph.value, predicate.value] = int(n.value)
            self.predicates = (now, sizes)
        return self.predicates[1]


# --- the fragment in RDF ----------------------------------------------------------------------------------


Statement = tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode | ox.Literal]


def iri(value: str) -> ox.NamedNode:
    return ox.NamedNode(value)


def number(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=XSD_INTEGER)


@functools.lru_cache(maxsize=64)
def controls(base: str, dataset: str, endpoint: str) -> tuple[Statement, ...]:
    """What every fragment of this server says of the dataset: the default graph's name, the SPARQL
    endpoint and the search form with its mappings (kept: only a page's own statements are made anew)."""
    search = iri(base + "#search")
    out: list[Statement] = [
        (iri(dataset), iri(SD + "defaultGraph"), iri(DEFAULT_GRAPH)),
        (iri(dataset), iri(VOID + "sparqlEndpoint"), iri(endpoint)),
        (iri(dataset), iri(HYDRA + "search"), search),
        (search, iri(RDF + "type"), iri(HYDRA + "IriTemplate")),
        (search, iri(HYDRA + "template"), ox.Literal(base + "{?" + ",".join(POSITIONS) + "}")),
        (search, iri(HYDRA + "variableRepresentation"), iri(HYDRA + "ExplicitRepresentation")),
    ]
    out += [(search, iri(HYDRA + "mapping"), iri(f"{base}#{position}")) for position in POSITIONS]
    for position in POSITIONS:
        mapping = iri(f"{base}#{position}")
        out += [
            (mapping, iri(RDF + "type"), iri(HYDRA + "IriTemplateMapping")),
            (mapping, iri(HYDRA + "variable"), ox.Literal(position)),
            (mapping, iri(HYDRA + "property"), iri(MAPPED[position])),
            (mapping, iri(HYDRA + "required"), ox.Literal("false", datatype=XSD_BOOLEAN)),
        ]
    return tuple(out)


def metadata(page: Page, at: Addresses) -> list[Statement]:
    """The page's metadata and controls, in the order Comunica's metadata reader needs: it takes the last
    ``void:subset`` of this page as the fragment, so the dataset's come first."""
    dataset, fragment, view = iri(at.dataset), iri(at.fragment), iri(at.page)
    statements: list[Statement] = [
        (dataset, iri(RDF + "type"), iri(VOID + "Dataset")),
        (dataset, iri(RDF + "type"), iri(HYDRA + "Collection")),
        (dataset, iri(VOID + "subset"), view),
    ]
    if at.fragment != at.page:
        statements.append((dataset, iri(VOID + "subset"), fragment))
    statements += controls(at.base, at.dataset, at.endpoint)
    count = page.count
    statements += [
        (fragment, iri(VOID + "subset"), view),
        (fragment, iri(RDF + "type"), iri(HYDRA + "Collection")),
        (fragment, iri(HYDRA + "view"), view),
        (fragment, iri(DCTERMS + "title"), ox.Literal(f"Fragment {{ {page.pattern.text()} }}", language="en")),
        (fragment, iri(DCTERMS + "source"), dataset),
        (fragment, iri(VOID + "triples"), number(count.value)),
    ]
    if count.exact:
        statements.append((fragment, iri(HYDRA + "totalItems"), number(count.value)))
    else:
        note = (
            f"void:triples is an estimate: the pattern has more than {COUNT_LIMIT:,} matches, and this server "
            "counts no further; the figure is the size of the smallest set it knows that holds them."
        )
        statements.append((fragment, iri(RDFS + "comment"), ox.Literal(note, language="en")))
    statements += [
        (view, iri(RDF + "type"), iri(HYDRA + "PartialCollectionView")),
        (view, iri(HYDRA + "itemsPerPage"), number(page.size)),
        (view, iri(HYDRA + "first"), iri(at.page_url(1))),
    ]
    if page.number > 1:
        statements.append((view, iri(HYDRA + "previous"), iri(at.page_url(page.number - 1))))
    if page.more:
        statements.append((view, iri(HYDRA + "next"), iri(at.page_url(page.number + 1))))
    if page.last is not None:
        statements.append((view, iri(HYDRA + "last"), iri(at.page_url(page.last))))
    return statements


def write(page: Page, at: Addresses, fmt: RdfFormat) -> bytes:
    """The page in ``fmt``: its metadata and controls, then its matches. In a dataset format the metadata
    is in its own graph (``…#metadata``, whose ``foaf:primaryTopic`` is the fragment), as the QPF
    specification and Comunica want. N-Quads and N-Triples are written as text, the matches as the worker
    gave them (a page's terms are never made into Python objects); the other formats by pyoxigraph."""
    statements = metadata(page, at)
    graph = iri(at.fragment + "#metadata") if fmt.keeps_graphs else None
    if graph is not None:
        statements.insert(0, (graph, iri(FOAF + "primaryTopic"), iri(at.fragment)))
    if fmt.name in ("nquads", "ntriples"):
        context = f" {graph}" if graph is not None else ""
        text = [f"{s} {p} {o}{context} .\n" for s, p, o in statements]
        if graph is not None:
            text += [nquad(match) for match in page.matches]
        else:
            text += [f"{triple} .\n" for triple, _ in page.matches]
        return "".join(text).encode("utf-8")
    in_graph = graph if graph is not None else ox.DefaultGraph()
    quads = [ox.Quad(s, p, o, in_graph) for s, p, o in statements] + page.quads()
    items = quads if graph is not None else [quad.triple for quad in quads]
    return ox.serialize(items, format=fmt.rdf_format, prefixes=FRAGMENT_PREFIXES) or b""


TEXT = {"text/plain": {"schema": {"type": "string"}}}


def parameter(name: str, description: str) -> dict[str, object]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


FRAGMENTS_DOC: dict[str, object] = {
    "parameters": [
        parameter("subject", "An IRI; empty or absent: any subject."),
        parameter("predicate", "An IRI; empty or absent: any predicate."),
        parameter("object", 'An IRI, or a literal: "text", "text"@en, "2016"^^http://www.w3.org/2001/XMLSchema#gYear.'),
        parameter(
            "graph",
            f"A named graph's IRI, or {DEFAULT_GRAPH} for the default graph (the union); "
            "absent: the quads of every named graph.",
        ),
        parameter("page", "The page, from 1."),
        parameter("format", "turtle, trig, ntriples, nquads, jsonld, rdfxml, html, or a media type (else Accept)."),
    ],
    "responses": {
        "200": {
            "description": "One page of the fragment, with its count and controls",
            "content": {f.media_type: {"schema": {"type": "string"}} for f in RDF_FORMATS}
            | {"text/html": {"schema": {"type": "string"}}},
        },
        "406": {"description": "No offered format is acceptable; the body lists them", "content": TEXT},
        "502": {"description": "The external SPARQL endpoint cannot be reached or answered badly", "content": TEXT},
        "503": {"description": "Every query worker is busy (Retry-After)", "content": TEXT},
        "504": {"description": "The page's query ran past the time limit", "content": TEXT},
    },
}
