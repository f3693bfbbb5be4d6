"""``/reconcile``: a Reconciliation Service API 0.2 endpoint over our entities, for OpenRefine and the other
clients of the protocol (reconciliation-api.github.io/specs/0.2/).

=======================================  =============================================================
``GET /reconcile``                       the service manifest
``GET|POST /reconcile?queries=…``        a batch of reconciliation queries (type and property constraints)
``GET|POST /reconcile?extend=…``         data extension: property values, among them each entity's
                                         Wikidata item (property ``wikidata``)
``GET /reconcile/properties?type=…``     the properties data extension proposes for a type
``GET /reconcile/suggest/entity|type|property?prefix=…&cursor=…``   suggest services
``GET /reconcile/preview?id=…``          an HTML preview of an entity, to show in an ``<iframe>``
=======================================  =============================================================

Entity ids are our local names (``jaxa``, in the identifier space ``https://w3id.org/spacegraph/id/``);
types and properties are compact names (``sg:SpaceMission``, ``sg:country``). Everything comes from the
backend, asked with SPARQL as the pages ask it (``catalogue.py``), and is kept while the data is the same.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl

import pyoxigraph as ox
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from spacegraph import __version__
from spacegraph.config import Config
from spacegraph.engine.store import Backend, QueryError
from spacegraph.formats import bare
from spacegraph.namespaces import DEF, ID, WIKIDATA_ENTITY
from spacegraph.web.catalogue import ENTITIES_QUERY, TERMS_QUERY, WIKIDATA, Catalogue, Entity, Scored, expand, term_id
from spacegraph.web.deref import BackendDependency, epoch, max_age, plain, query_failed
from spacegraph.web.describe import select
from spacegraph.web.sparql import FORM, MAX_FORM_FIELDS, read_body

BATCH_SIZE = 50  # queries in one batch; more get 413
MAX_BODY = 1024 * 1024  # bytes of a POSTed form
DEFAULT_LIMIT = 5
SUGGEST_PAGE = 10
WIKIDATA_SERVICE = "https://wikidata.reconci.link/en/api"  # the reconciliation service of Wikidata's items
XSD = "http://www.w3.org/2001/XMLSchema#"
T = TypeVar("T")


def json_answer(body: object, status: int = 200, cache: str = "no-store") -> Response:
    return JSONResponse(body, status, headers={"Cache-Control": cache})


class BadRequest(Exception):
    """A malformed query, batch or parameter: 400 with what is wrong."""


class Checked(NamedTuple):
    """A reconciliation query, read: what ``Catalogue.reconcile`` takes."""

    text: str | None
    kinds: list[str]
    properties: list[tuple[str, list[Any]]]
    limit: int


async def scored(backend: Backend, key: Hashable, score: Callable[[], T]) -> T:
    """``score``'s answer (Python work, a few milliseconds) as an evaluation of the request's client, like
    a query's: it waits its turn and counts against the client's budget (``engine/scheduler.py``),
    identical ones in flight are scored once, and it runs in a thread, so that the event loop goes on
    serving the other requests. Scored on the event loop, a client posting batches of 50 queries held
    the whole server: another client's point lookups went from 5 ms to 560 ms (median; 20 ms now,
    tests/web/test_fairness.py)."""

    async def evaluate() -> T:
        return await asyncio.to_thread(score)

    return await backend.scheduler.run(key, False, evaluate)


class ReconciliationRouter(APIRouter):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.catalogue: tuple[int, Catalogue] | None = None
        both, get = ["GET", "POST"], ["GET", "HEAD"]
        self.add_api_route("/reconcile", self.endpoint, methods=both, include_in_schema=False)
        self.add_api_route("/reconcile/properties", self.wrap(self.propose), methods=get, include_in_schema=False)
        for kind in ("entity", "type", "property"):
            route = self.wrap(getattr(self, f"suggest_{kind}"))
            self.add_api_route(f"/reconcile/suggest/{kind}", route, methods=get, include_in_schema=False)
        self.add_api_route("/reconcile/preview", self.wrap(self.preview), methods=get, include_in_schema=False)

    async def get_catalogue(self, backend: Backend) -> Catalogue:
        now = epoch(backend)
        if self.catalogue is None or self.catalogue[0] != now:
            entities = await select(backend, ENTITIES_QUERY)
            terms = await select(backend, TERMS_QUERY)
            self.catalogue = (now, Catalogue(entities, terms))
        return self.catalogue[1]

    def wrap(
        self, handler: Callable[[Request, Catalogue], Response]
    ) -> Callable[[Request, Backend], Awaitable[Response]]:
        async def route(request: Request, backend: BackendDependency) -> Response:
            try:
                catalogue = await self.get_catalogue(backend)
                return handler(request, catalogue)
            except QueryError as error:
                return query_failed(error)
            except BadRequest as error:
                return plain(400, str(error))

        return route

    # --- the endpoint: manifest, queries, data extension

    async def endpoint(self, request: Request, backend: BackendDependency) -> Response:
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            if bare(request.headers.get("content-type", "")) != FORM:
                return plain(415, f"POST queries or extend as {FORM}")
            body = await read_body(request, MAX_BODY)
            if body is None:
                return plain(413, f"the form is larger than {MAX_BODY} bytes")
            try:
                fields = parse_qsl(body.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS, errors="strict")
            except (ValueError, UnicodeDecodeError) as error:
                return plain(400, f"cannot read the form: {error}")
            params.update(fields)
        try:
            if "queries" in params:
                catalogue = await self.get_catalogue(backend)
                batch = parse_json(params["queries"], "queries")
                return json_answer(await self.answer_queries(backend, catalogue, batch))
            if "extend" in params:
                catalogue = await self.get_catalogue(backend)
                return json_answer(self.extend(catalogue, parse_json(params["extend"], "extend")))
            catalogue = await self.get_catalogue(backend)
        except QueryError as error:
            return query_failed(error)
        except BadRequest as error:
            return plain(413 if "batch" in str(error) and "more than" in str(error) else 400, str(error))
        return json_answer(self.manifest(request, catalogue), cache=f"public, max-age={max_age(backend)}")

    def manifest(self, request: Request, catalogue: Catalogue) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        defaults = ["sg:SpaceMission", "org:FormalOrganization", "schema:Person", "sg:Conference"]
        return {
            "versions": ["0.2"],
            "name": "spacegraph: France-Japan space cooperation (CNES, July 2016)",
            "identifierSpace": ID,
            "schemaSpace": DEF,
            "documentation": f"{base}/",
            "serviceVersion": __version__,
            "batchSize": BATCH_SIZE,
            "view": {"url": f"{base}/id/{{{{id}}}}"},
            "defaultTypes": [self.type_object(catalogue, t) for t in defaults if catalogue_has(catalogue, t)],
            "preview": {"url": f"{base}/reconcile/preview?id={{{{id}}}}", "width": 400, "height": 160},
            "suggest": {
                kind: {"service_url": base, "service_path": f"/reconcile/suggest/{kind}"}
                for kind in ("entity", "type", "property")
            },
            "extend": {
                "propose_properties": {"service_url": base, "service_path": "/reconcile/properties"},
                "property_settings": [],
            },
        }

    def type_object(self, catalogue: Catalogue, identifier: str) -> dict[str, str]:
        iri = expand_id(identifier)
        return {"id": term_id(iri), "name": catalogue.type_name(iri)}

    async def answer_queries(self, backend: Backend, catalogue: Catalogue, batch: object) -> dict[str, Any]:
        """Every query of the batch checked first, then each scored as its own evaluation of the client's
        (``scored``): 50 queries of a few milliseconds each are 50 turns, not one stall of the server."""
        if not isinstance(batch, dict):
            raise BadRequest("queries must be a JSON object of queries by key")
        if len(batch) > BATCH_SIZE:
            raise BadRequest(f"a batch of {len(batch)} queries: more than {BATCH_SIZE} in one batch")
        checked = {str(key): self.checked(str(key), query) for key, query in batch.items()}
        answers: dict[str, Any] = {}
        for key, query in checked.items():
            same = ("reconcile", id(catalogue), json.dumps(batch[key], sort_keys=True))  # single-flight's key
            answers[key] = {"result": await scored(backend, same, partial(self.answer, catalogue, query))}
        return answers

    def checked(self, key: str, query: object) -> Checked:
        """The query's text, types, property constraints and limit, or BadRequest saying what is wrong."""
        if not isinstance(query, dict):
            raise BadRequest(f"query {key!r} is not a JSON object")
        text = query.get("query")
        if text is not None and not isinstance(text, str):
            raise BadRequest(f"query {key!r}: 'query' must be a string")
        kinds = query.get("type") or []
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise BadRequest(f"query {key!r}: 'type' must be a type id or a list of them")
        properties = []
        for constraint in query.get("properties") or []:
            if not isinstance(constraint, dict) or "pid" not in constraint or "v" not in constraint:
                raise BadRequest(f"query {key!r}: each property needs 'pid' and 'v'")
            values = constraint["v"] if isinstance(constraint["v"], list) else [constraint["v"]]
            properties.append((str(constraint["pid"]), values))
        if not (text and text.strip()) and not properties:
            raise BadRequest(f"query {key!r} has neither a 'query' nor 'properties'")
        limit = query.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int | float) or limit < 1:
            raise BadRequest(f"query {key!r}: 'limit' must be a positive number")
        return Checked(text.strip() if text else None, kinds, properties, int(limit))

    def answer(self, catalogue: Catalogue, query: Checked) -> list[dict[str, Any]]:
        found = catalogue.reconcile(query.text, query.kinds, query.properties, query.limit)
        return [self.candidate(catalogue, scored, query.text) for scored in found]

    def candidate(self, catalogue: Catalogue, scored: Scored, text: str | None) -> dict[str, Any]:
        entity = scored.entity
        return {
            "id": entity.id,
            "name": entity.name(),
            "description": catalogue.description(entity),
            "score": scored.score,
            "match": catalogue.unambiguous(scored, text.strip() if text else None),
            "type": [{"id": term_id(t), "name": catalogue.type_name(t)} for t in entity.types],
            "features": [{"id": name, "value": value} for name, value in scored.features.items()],
        }

    def extend(self, catalogue: Catalogue, query: object) -> dict[str, Any]:
        if (
            not isinstance(query, dict)
            or not isinstance(query.get("ids"), list)
            or not isinstance(query.get("properties"), list)
        ):
            raise BadRequest("extend must be a JSON object with 'ids' and 'properties' lists")
        pids = [str(p["id"]) for p in query["properties"] if isinstance(p, dict) and "id" in p]
        meta: list[dict[str, Any]] = []
        for pid in pids:
            column: dict[str, Any] = {"id": pid, "name": catalogue.property_name(expand_id(pid))}
            if pid == WIKIDATA:
                column["service"] = WIKIDATA_SERVICE
            meta.append(column)
        rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for identifier in query["ids"]:
            entity = catalogue.entities.get(str(identifier).removeprefix(ID))
            rows[str(identifier)] = {pid: self.cells(catalogue, entity, pid) if entity else [] for pid in pids}
        return {"meta": meta, "rows": rows}

    def cells(self, catalogue: Catalogue, entity: Entity, pid: str) -> list[dict[str, Any]]:
        if pid == WIKIDATA:
            return [{"id": qid, "name": entity.name()} for qid in entity.items()]
        cells: list[dict[str, Any]] = []
        for value in entity.values.get(expand_id(pid), []):
            if isinstance(value, ox.Literal):
                cells.append(literal_cell(value))
            elif value.value.startswith(ID) and value.value.removeprefix(ID) in catalogue.entities:
                other = catalogue.entities[value.value.removeprefix(ID)]
                cells.append({"id": other.id, "name": other.name()})
            elif value.value.startswith(WIKIDATA_ENTITY):
                continue  # given by the "wikidata" property, with the service that knows those ids
            else:
                cells.append({"str": value.value})
        return cells

    def propose(self, request: Request, catalogue: Catalogue) -> Response:
        kind = request.query_params.get("type", "")
        limit = whole(request.query_params.get("limit"), 50) or 50
        entities = [e for e in catalogue.entities.values() if not kind or catalogue.is_a(e, [kind])]
        used = sorted({p for e in entities for p in e.values if p in catalogue.used_properties})
        properties = [{"id": WIKIDATA, "name": "Wikidata item"}]
        properties += [{"id": term_id(p), "name": catalogue.property_name(p)} for p in used]
        answer: dict[str, Any] = {"type": kind, "properties": properties[:limit]}
        if request.query_params.get("limit"):
            answer["limit"] = limit
        return json_answer(answer)

    # --- suggest services and previews

    def suggest_entity(self, request: Request, catalogue: Catalogue) -> Response:
        kinds = [t for t in request.query_params.getlist("type") if t]
        found = page(catalogue.suggest_entities(request.query_params.get("prefix", ""), kinds), request)
        result = [
            {
                "id": e.id,
                "name": e.name(),
                "description": catalogue.description(e),
                "notable": [{"id": term_id(t), "name": catalogue.type_name(t)} for t in e.types],
            }
            for e in found
        ]
        return json_answer({"result": result})

    def suggest_type(self, request: Request, catalogue: Catalogue) -> Response:
        types = catalogue.suggest_terms(
            request.query_params.get("prefix", ""), catalogue.used_types, catalogue.type_name
        )
        result = []
        for iri in page(types, request):
            broader = sorted(catalogue.terms[iri].supers) if iri in catalogue.terms else []
            item: dict[str, Any] = {"id": term_id(iri), "name": catalogue.type_name(iri)}
            if iri in catalogue.terms and catalogue.terms[iri].comment:
                item["description"] = catalogue.terms[iri].comment
            if broader:
                item["broader"] = [{"id": term_id(b), "name": catalogue.type_name(b)} for b in broader]
            result.append(item)
        return json_answer({"result": result})

    def suggest_property(self, request: Request, catalogue: Catalogue) -> Response:
        iris = [WIKIDATA, *catalogue.used_properties]
        chosen = catalogue.suggest_terms(request.query_params.get("prefix", ""), iris, catalogue.property_name)
        result = []
        for iri in page(chosen, request):
            item = {"id": iri if iri == WIKIDATA else term_id(iri), "name": catalogue.property_name(iri)}
            if iri in catalogue.terms and catalogue.terms[iri].comment:
                item["description"] = catalogue.terms[iri].comment
            result.append(item)
        return json_answer({"result": result})

    def preview(self, request: Request, catalogue: Catalogue) -> Response:
        identifier = request.query_params.get("id", "")
        entity = catalogue.entities.get(identifier.removeprefix(ID))
        if entity is None:
            return plain(404, f"no entity {identifier!r} in this graph")
        root = request.scope.get("root_path", "")
        names = "".join(f'<li lang="{html.escape(lang)}">{html.escape(text)}</li>' for lang, text in entity.names)
        items = "".join(
            f' <a href="https://www.wikidata.org/wiki/{q}" target="_blank" rel="noopener">{q}</a>'
            for q in map(html.escape, entity.items())
        )
        body = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(entity.name())}</title>"
            f'<link rel="stylesheet" href="{root}/static/style.css"></head>'
            f'<body class="preview"><h1><a href="{root}/id/{html.escape(entity.id)}" target="_blank">'
            f"{html.escape(entity.name())}</a></h1>"
            f"<p>{html.escape(catalogue.description(entity))}</p><ul>{names}</ul>"
            + (f"<p>Wikidata:{items}</p>" if items else "")
            + "</body></html>\n"
        )
        return Response(body.encode(), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


def catalogue_has(catalogue: Catalogue, identifier: str) -> bool:
    return expand_id(identifier) in catalogue.used_types


def expand_id(identifier: str) -> str:
    return identifier if identifier == WIKIDATA else expand(identifier)


def parse_json(text: str, name: str) -> object:
    try:
        return json.loads(text)
    except ValueError as error:
        raise BadRequest(f"{name} is not valid JSON: {error}") from None


def whole(text: str | None, default: int) -> int:
    """A parameter that is a whole number (``cursor``, ``limit``), or ``default`` when absent."""
    try:
        number = int(text) if text else default
    except ValueError:
        raise BadRequest(f"not a whole number: {text!r}") from None
    if number < 0:
        raise BadRequest(f"must not be negative: {text!r}")
    return number


def page(found: list[Any], request: Request) -> list[Any]:
    start = whole(request.query_params.get("cursor"), 0)
    limit = whole(request.query_params.get("limit"), SUGGEST_PAGE) or SUGGEST_PAGE
    return found[start : start + limit]


def literal_cell(value: ox.Literal) -> dict[str, Any]:
    datatype = value.datatype.value
    if datatype in (XSD + "integer", XSD + "int", XSD + "nonNegativeInteger", XSD + "positiveInteger"):
        try:
            return {"int": int(value.value)}
        except ValueError:
            pass
    if datatype in (XSD + "decimal", XSD + "double", XSD + "float"):
        try:
            return {"float": float(value.value)}
        except ValueError:
            pass
    if datatype == XSD + "date" and len(value.value) == 10:
        return {"date": f"{value.value}T00:00:00Z"}
    if datatype == XSD + "dateTime":
        return {"date": value.value if value.value[-1:] == "Z" or "+" in value.value[10:] else value.value + "Z"}
    return {"str": value.value}
