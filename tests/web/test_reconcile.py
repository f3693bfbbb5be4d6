"""`/reconcile`, the Reconciliation Service API 0.2 endpoint, over real HTTP (uvicorn on a free port):
the manifest, reconciliation batches with type and property constraints, the suggest services, previews
and data extension. Every answer is validated against the protocol's JSON Schemas (the files in
``../shared/standards/reconciliation-api-0.2/``, their ``$ref``s resolved to the files beside them),
and a real client of the protocol (the ``reconciler`` package) reconciles a small table through it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.web.app import create_app
from tests.support import running

SCHEMAS = Path(
    os.environ.get(
        "SPACEGRAPH_RECONCILIATION_SCHEMAS",
        PROJECT_ROOT.parent / "shared" / "standards" / "reconciliation-api-0.2",
    )
)


@pytest.fixture(scope="module")
def registry() -> Registry[Any]:
    """Every schema of the folder, by its ``$id`` (so ``type.json`` and the manifest's reference to the
    Swagger 2.0 schema, ``openapi.json``, resolve). Their ``$schema`` is the unversioned
    ``http://json-schema.org/schema#``, so they are read as draft 7, the draft of the specification's era."""
    if not SCHEMAS.is_dir():
        pytest.fail(
            f"the Reconciliation API schemas are needed at {SCHEMAS} (or set SPACEGRAPH_RECONCILIATION_SCHEMAS)"
        )
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        resources.append((document["$id"].rstrip("#"), Resource.from_contents(document, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def validate(registry: Registry[Any], schema_file: str, instance: object) -> None:
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, registry=registry, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.fixture(scope="module")
def base(nquads: Path) -> Iterator[str]:
    with running(create_app(Config(data=(nquads,), timeout=10))) as url:
        yield url


def reconcile(base: str, queries: dict[str, Any], registry: Registry[Any], method: str = "POST") -> dict[str, Any]:
    validate(registry, "reconciliation-query-batch.json", queries)  # what we send is a valid batch too
    payload = {"queries": json.dumps(queries, ensure_ascii=False)}
    if method == "POST":
        response = httpx.post(f"{base}/reconcile", data=payload, timeout=10)
    else:
        response = httpx.get(f"{base}/reconcile", params=payload, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    validate(registry, "reconciliation-result-batch.json", answer)
    return answer


def test_the_manifest(base: str, registry: Registry[Any]) -> None:
    response = httpx.get(f"{base}/reconcile", timeout=10, headers={"Origin": "https://openrefine.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"  # CORS, which 0.2 makes mandatory
    manifest = response.json()
    validate(registry, "manifest.json", manifest)
    assert manifest["versions"] == ["0.2"]
    assert manifest["identifierSpace"] == "https://w3id.org/spacegraph/id/"
    assert manifest["view"]["url"] == f"{base}/id/{{{{id}}}}"
    assert {t["id"] for t in manifest["defaultTypes"]} >= {"sg:SpaceMission", "schema:Person"}
    for kind in ("entity", "type", "property"):
        assert manifest["suggest"][kind] == {"service_url": base, "service_path": f"/reconcile/suggest/{kind}"}
    assert manifest["extend"]["propose_properties"]["service_path"] == "/reconcile/properties"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_names_of_jaxa_and_hayabusa_find_them_first(base: str, registry: Registry[Any], method: str) -> None:
    names = ["JAXA", "Japan Aerospace Exploration Agency", "宇宙航空研究開発機構", "Hayabusa 2"]
    answer = reconcile(base, {f"q{i}": {"query": name} for i, name in enumerate(names)}, registry, method)
    expected = ["jaxa", "jaxa", "jaxa", "hayabusa2"]
    for i, entity in enumerate(expected):
        first = answer[f"q{i}"]["result"][0]
        assert first["id"] == entity, (names[i], answer[f"q{i}"])
        assert first["match"] is True and first["score"] == 100
        assert all(c["score"] < first["score"] and c["match"] is False for c in answer[f"q{i}"]["result"][1:])
    jaxa = answer["q0"]["result"][0]
    assert jaxa["name"] == "Japan Aerospace Exploration Agency"
    assert {t["id"] for t in jaxa["type"]} == {"org:FormalOrganization", "schema:GovernmentOrganization"}
    assert {f["id"] for f in jaxa["features"]} == {"name", "name_exact"}


def test_types_and_properties_constrain_the_candidates(base: str, registry: Registry[Any]) -> None:
    answer = reconcile(
        base,
        {
            "mission": {"query": "Hayabusa", "type": "sg:SpaceMission", "limit": 3},
            "lander": {"query": "Mascot", "type": ["sg:Spacecraft"], "type_strict": "any"},  # a Lander is one
            "country": {"query": "GOSAT", "properties": [{"pid": "sg:country", "v": {"id": "japan", "name": "Japan"}}]},
            "wrong": {"query": "GOSAT", "properties": [{"pid": "sg:country", "v": "France"}]},
            "item": {"query": "Agency", "properties": [{"pid": "wikidata", "v": "Q179103"}]},
            "only": {"properties": [{"pid": "wikidata", "v": ["Q2113134"]}]},
            "nothing": {"query": "Hayabusa", "type": "schema:Person"},
        },
        registry,
    )
    assert answer["mission"]["result"][0]["id"] == "hayabusa2" and len(answer["mission"]["result"]) <= 3
    assert all("sg:SpaceMission" in {t["id"] for t in c["type"]} for c in answer["mission"]["result"])
    assert [c["id"] for c in answer["lander"]["result"]] == ["mascot"]
    country = answer["country"]["result"][0]
    assert country["id"] == "gosat" and country["match"] is True
    assert {"id": "properties", "value": 1.0} in country["features"]
    wrong = answer["wrong"]["result"][0]
    assert wrong["id"] == "gosat" and wrong["match"] is False and wrong["score"] < country["score"]
    assert answer["item"]["result"][0]["id"] == "jaxa"
    assert [c["id"] for c in answer["only"]["result"]] == ["hayabusa2"]
    assert answer["nothing"]["result"] == []


def test_a_malformed_batch_is_a_clear_400(base: str) -> None:
    for payload, message in [
        ("{", "queries is not valid JSON"),
        ('{"q0": {"type": "sg:SpaceMission"}}', "query 'q0' has neither a 'query' nor 'properties'"),
        ('{"q0": {"query": 3}}', "query 'q0': 'query' must be a string"),
    ]:
        response = httpx.post(f"{base}/reconcile", data={"queries": payload}, timeout=10)
        assert response.status_code == 400 and response.text.startswith(message), response.text
    big = {f"q{i}": {"query": "JAXA"} for i in range(51)}
    response = httpx.post(f"{base}/reconcile", data={"queries": json.dumps(big)}, timeout=10)
    assert response.status_code == 413


def test_the_suggest_services(base: str, registry: Registry[Any]) -> None:
    entities = httpx.get(f"{base}/reconcile/suggest/entity", params={"prefix": "haya"}, timeout=10).json()
    validate(registry, "suggest-entities-response.json", entities)
    assert entities["result"][0]["id"] == "hayabusa2" and entities["result"][0]["notable"]
    japanese = httpx.get(f"{base}/reconcile/suggest/entity", params={"prefix": "宇宙航空"}, timeout=10).json()
    assert japanese["result"][0]["id"] == "jaxa"
    first = httpx.get(f"{base}/reconcile/suggest/entity", params={"prefix": "c"}, timeout=10).json()["result"]
    more = httpx.get(f"{base}/reconcile/suggest/entity", params={"prefix": "c", "cursor": "2"}, timeout=10).json()
    assert more["result"][0] == first[2]
    types = httpx.get(f"{base}/reconcile/suggest/type", params={"prefix": "lan"}, timeout=10).json()
    validate(registry, "suggest-types-response.json", types)
    lander = next(t for t in types["result"] if t["id"] == "sg:Lander")
    assert [b["id"] for b in lander["broader"]] == ["sg:Spacecraft"]
    properties = httpx.get(f"{base}/reconcile/suggest/property", params={"prefix": "wiki"}, timeout=10).json()
    validate(registry, "suggest-properties-response.json", properties)
    assert properties["result"][0] == {"id": "wikidata", "name": "Wikidata item"}


def test_data_extension_gives_each_entitys_wikidata_item(base: str, registry: Registry[Any]) -> None:
    proposed = httpx.get(f"{base}/reconcile/properties", params={"type": "sg:SpaceMission", "limit": "5"}, timeout=10)
    validate(registry, "data-extension-property-proposal.json", proposed.json())
    assert proposed.json()["properties"][0] == {"id": "wikidata", "name": "Wikidata item"}
    query = {
        "ids": ["jaxa", "hayabusa2", "mascot", "nobody"],
        "properties": [{"id": "wikidata"}, {"id": "sg:country"}, {"id": "rdfs:label"}],
    }
    validate(registry, "data-extension-query.json", query)
    response = httpx.post(f"{base}/reconcile", data={"extend": json.dumps(query)}, timeout=10)
    answer = response.json()
    validate(registry, "data-extension-response.json", answer)
    assert answer["meta"][0] == {
        "id": "wikidata",
        "name": "Wikidata item",
        "service": "https://wikidata.reconci.link/en/api",
    }
    rows = answer["rows"]
    assert rows["jaxa"]["wikidata"] == [{"id": "Q179103", "name": "Japan Aerospace Exploration Agency"}]
    assert rows["hayabusa2"]["wikidata"] == [{"id": "Q2113134", "name": "Hayabusa-2"}]
    assert rows["mascot"]["wikidata"] == []  # not linked: no item is better than a wrong one
    assert rows["jaxa"]["sg:country"] == [{"id": "japan", "name": "Japan"}]
    assert {"str": "宇宙航空研究開発機構"} in rows["jaxa"]["rdfs:label"]
    assert rows["nobody"] == {"wikidata": [], "sg:country": [], "rdfs:label": []}


def test_the_preview_can_be_framed(base: str) -> None:
    response = httpx.get(f"{base}/reconcile/preview", params={"id": "jaxa"}, timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert "<h1>" in response.text and "Japan Aerospace Exploration Agency" in response.text
    assert 'href="https://www.wikidata.org/wiki/Q179103"' in response.text
    assert httpx.get(f"{base}/reconcile/preview", params={"id": "nobody"}, timeout=10).status_code == 404
    assert "frame-ancestors 'none'" in httpx.get(f"{base}/id/jaxa.html", timeout=10).headers["content-security-policy"]


# reconciler 0.2.2 calls DataFrame.drop(inplace=True), which pandas 3.1 deprecates: its warning, not ours.
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop is deprecated")
def test_a_real_client_reconciles_a_table(base: str) -> None:
    import pandas as pd
    from reconciler import reconcile as reconcile_column

    table = pd.DataFrame(
        {
            "name": ["JAXA", "Hayabusa 2", "Agence spatiale européenne", "国際宇宙ステーション", "MASCOT", "Mercure"],
            "expected": ["jaxa", "hayabusa2", "esa", "iss", "mascot", "mercury"],
        }
    )
    found = reconcile_column(table["name"], reconciliation_endpoint=f"{base}/reconcile")
    by_input = dict(zip(found["input_value"], found["id"], strict=True))
    assert by_input == dict(zip(table["name"], table["expected"], strict=True))
    assert found["match"].all()
    typed = reconcile_column(
        pd.Series(["Hayabusa-2", "BepiColombo"]), type_id="sg:SpaceMission", reconciliation_endpoint=f"{base}/reconcile"
    )
    assert list(typed["id"]) == ["hayabusa2", "bepicolombo"] and list(typed["type_id"]) == ["sg:SpaceMission"] * 2
