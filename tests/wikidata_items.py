"""The items of the Wikidata stand-in (``tests/wikidata_stand_in.py``), built in the JSON shapes the real
API answers with. This module holds no test.

Where each shape comes from:

- an item of ``wbgetentities`` (JSON format 1): ``{"type": "item", "id": …, "labels": {lang: {"language",
  "value"}}, "descriptions": …, "aliases": {lang: [{"language", "value"}]}, "claims": {pid: [statement]}}``;
  a statement ``{"mainsnak": {"snaktype": "value", "property", "datavalue": {"value": {"entity-type":
  "item", "numeric-id", "id"}, "type": "wikibase-entityid"}, "datatype": "wikibase-item"}, "type":
  "statement", "rank"}`` — an answer captured from the live API on 2026-09-07 and kept in a public Kotlin
  test (code-index id 66116880280: ``wbgetentities&ids=Q53265341&props=claims``), and maxlath/wikibase-sdk
  ``docs/get_entities.md`` for the parameters (``ids``, ``languages``, ``props``, 50 ids a request);
- a merged item (a redirect): the outer key is the id asked for, ``id`` the target, and ``"redirects":
  {"from", "to"}`` — the same captured answer (Q53265341 merged into Q11036);
- a deleted item: ``{"id": "Q3", "missing": ""}`` — a .NET parser's test of a ``wbgetentities`` answer
  (code-index id 70363756755), and Wikipedia's Android app, whose ``Entities.isMissing`` reads it;
- a time value: ``{"time": "+2016-11-07T00:00:00Z", "timezone": 0, "before": 0, "after": 0, "precision":
  11, "calendarmodel": "http://www.wikidata.org/entity/Q1985727"}``, type ``time`` (the Wikibase JSON data
  model; the references spacegraph's own QuickStatements write use the same ``+YYYY-MM-DDT00:00:00Z/11``);
- a search hit of ``wbsearchentities``: ``id``, ``title``, ``pageid``, ``repository``, ``url``,
  ``concepturi``, ``display.label`` / ``display.description`` (``{"value", "language"}``), ``label``,
  ``description``, ``match`` (``{"type": "label"|"alias", "language", "text"}``), ``aliases`` when an
  alias matched — a stored search answer in TideDra/Multimodality-Linking ``src/data/stub.ts`` and the
  field list of labaib/searchWikiEntitiesByLabel ``index.js``; the answer's frame ``{"searchinfo":
  {"search"}, "search": [...], "success": 1}`` (a C# model of the answer, ``WikidataSearchEntitiesResult``);
- a maxlag error: status 200, ``{"error": {"code": "maxlag", "info": "Waiting for $host: $lag seconds
  lagged", "host", "lag", "*"}}`` with ``Retry-After`` and ``X-Database-Lag`` headers
  (mediawiki.org, Manual:Maxlag parameter, T33156).

Which items are real and which are not:

- **Real items** keep the Q-ids and labels confirmed in ``data/wikidata/links.tsv`` and
  ``ontology/wikidata-mappings.tsv`` (classes, countries, cities, agencies, Hayabusa2, Philae). Their
  descriptions here are the stand-in's ("stand-in description …"), and their ``P279`` links are chosen
  for the tests, not copied from Wikidata.
- **Fixture items** do not exist: their Q-ids are in the range Q999999000 to Q999999999 (far beyond any
  item Wikidata has made), and every one of their descriptions begins with "TEST FIXTURE, not a real
  item". They stand for the candidates of our unlinked entities (the right one and its namesakes, a
  disambiguation page, a merged item, a deleted one). Never copy one into the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FIXTURE = "TEST FIXTURE, not a real item: "
Json = dict[str, Any]


def item_value(qid: str) -> Json:
    return {"value": {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}, "type": "wikibase-entityid"}


def time_value(day: str) -> Json:
    return {
        "value": {
            "time": f"+{day}T00:00:00Z",
            "timezone": 0,
            "before": 0,
            "after": 0,
            "precision": 11,
            "calendarmodel": "http://www.wikidata.org/entity/Q1985727",
        },
        "type": "time",
    }


def statement(qid: str, pid: str, value: str, rank: str = "normal", number: int = 0) -> Json:
    datavalue, datatype = (time_value(value), "time") if value[:1].isdigit() else (item_value(value), "wikibase-item")
    return {
        "mainsnak": {"snaktype": "value", "property": pid, "datavalue": datavalue, "datatype": datatype},
        "type": "statement",
        "id": f"{qid}$00000000-0000-0000-0000-{number:012d}",
        "rank": rank,
    }


def item(
    qid: str,
    labels: dict[str, str],
    description: str = "",
    aliases: dict[str, list[str]] | None = None,
    claims: dict[str, list[str]] | None = None,
    preferred: tuple[str, ...] = (),
) -> Json:
    """An item as ``wbgetentities`` gives it. ``claims`` maps a property to its values (Q-ids, or days
    ``YYYY-MM-DD`` for times); values in ``preferred`` get the preferred rank."""
    number = 0
    built: dict[str, list[Json]] = {}
    for pid, values in (claims or {}).items():
        for value in values:
            number += 1
            built.setdefault(pid, []).append(
                statement(qid, pid, value, "preferred" if value in preferred else "normal", number)
            )
    descriptions = {"en": {"language": "en", "value": description}} if description else {}
    return {
        "type": "item",
        "id": qid,
        "labels": {lang: {"language": lang, "value": text} for lang, text in labels.items()},
        "descriptions": descriptions,
        "aliases": {lang: [{"language": lang, "value": t} for t in texts] for lang, texts in (aliases or {}).items()},
        "claims": built,
    }


# --- Real classes, countries, places and organisations (ids and labels as the record confirms them) ---

CLASSES = [
    item("Q5", {"en": "human"}),
    item("Q43229", {"en": "organization"}),
    item("Q327333", {"en": "government agency"}, claims={"P279": ["Q43229"]}),
    item("Q17505024", {"en": "space agency"}, claims={"P279": ["Q327333"]}),
    item("Q6256", {"en": "country"}),
    item("Q515", {"en": "city"}),
    item("Q5107", {"en": "continent"}),
    item("Q82794", {"en": "geographic region"}),
    item("Q2133344", {"en": "space mission"}),
    item("Q40218", {"en": "spacecraft"}),
    item("Q26540", {"en": "artificial satellite"}, claims={"P279": ["Q40218"]}),
    item("Q854845", {"en": "Earth observation satellite"}, claims={"P279": ["Q26540"]}),
    item("Q26529", {"en": "space probe"}, claims={"P279": ["Q40218"]}),
    item("Q763288", {"en": "lander"}, claims={"P279": ["Q40218"]}),
    item("Q25956", {"en": "space station"}, claims={"P279": ["Q26540"]}),
    item("Q6999", {"en": "astronomical object"}),
    item("Q634", {"en": "planet"}, claims={"P279": ["Q6999"]}),
    item("Q3504248", {"en": "inner planet of the Solar System"}, claims={"P279": ["Q634"]}),
    item("Q2537", {"en": "natural satellite"}, claims={"P279": ["Q6999"]}),
    item("Q177268", {"en": "moon of Mars"}, claims={"P279": ["Q2537"]}),
    item("Q3863", {"en": "asteroid"}, claims={"P279": ["Q6999"]}),
    item("Q50337", {"en": "prefecture of Japan"}),
    item("Q245065", {"en": "intergovernmental organization"}, claims={"P279": ["Q43229"]}),
    item("Q2020153", {"en": "academic conference"}),
    item("Q11631", {"en": "astronaut"}),
    item("Q4164871", {"en": "position"}),
    # code-index id 71117317693: "Q4167410",  # Wikimedia disambiguation page
    item("Q4167410", {"en": "Wikimedia disambiguation page"}),
]

# --- Fixture classes and items: the candidates of our unlinked entities --------------------------------

FIXTURE_CLASSES = [
    item("Q999999901", {"en": "research institute"}, FIXTURE + "a class", claims={"P279": ["Q43229"]}),
    item("Q999999902", {"en": "school"}, FIXTURE + "a class"),
    item("Q999999903", {"en": "software"}, FIXTURE + "a class"),
    item("Q999999904", {"en": "United Nations Climate Change Conference"}, FIXTURE + "a class"),
    item("Q999999905", {"en": "university"}, FIXTURE + "an organisation", claims={"P31": ["Q43229"]}),
    item("Q999999906", {"en": "paint company"}, FIXTURE + "an organisation", claims={"P31": ["Q43229"]}),
]

CANDIDATES = [
    # Thomas Pesquet: two humans of the same name; only the astronaut is French.
    item(
        "Q999999001",
        {"en": "Thomas Pesquet", "fr": "Thomas Pesquet", "ja": "トマ・ペスケ"},
        FIXTURE + "French astronaut",
        claims={"P31": ["Q5"], "P27": ["Q142"], "P106": ["Q11631"]},
    ),
    item(
        "Q999999002",
        {"en": "Thomas Pesquet"},
        FIXTURE + "a namesake: a cyclist",
        claims={"P31": ["Q5"], "P27": ["Q17"]},
    ),
    # Masaaki Tanaka: three humans; the one at MEXT (the R&D Bureau's parent) is ours.
    item(
        "Q999999011", {"en": "Masaaki Tanaka"}, FIXTURE + "a professor", claims={"P31": ["Q5"], "P108": ["Q999999905"]}
    ),
    item(
        "Q999999012",
        {"en": "Masaaki Tanaka"},
        FIXTURE + "a company head",
        claims={"P31": ["Q5"], "P108": ["Q999999906"]},
    ),
    item(
        "Q999999013",
        {"en": "Masaaki Tanaka", "ja": "田中正朗"},
        FIXTURE + "Japanese civil servant",
        claims={"P31": ["Q5"], "P27": ["Q17"], "P108": ["Q1054379"]},
    ),
    # ISAS: the institute under JAXA, a school of the same initials, and a disambiguation page.
    item(
        "Q999999021",
        {
            "en": "Institute of Space and Astronautical Science",
            "fr": "Institut des sciences spatiales et astronautiques",
            "ja": "宇宙科学研究所",
        },
        FIXTURE + "Japanese space research institute",
        aliases={"en": ["ISAS"], "ja": ["ISAS"]},
        claims={"P31": ["Q999999901"], "P17": ["Q17"], "P749": ["Q179103"]},
    ),
    item("Q999999022", {"en": "ISAS"}, FIXTURE + "a school", claims={"P31": ["Q999999902"], "P17": ["Q142"]}),
    item("Q999999023", {"en": "ISAS", "fr": "ISAS"}, FIXTURE + "a disambiguation page", claims={"P31": ["Q4167410"]}),
    # MASCOT: the lander on Hayabusa2, a program of the same name, and a disambiguation page.
    item(
        "Q999999031",
        {"en": "MASCOT", "fr": "MASCOT"},
        FIXTURE + "lander carried by Hayabusa2",
        aliases={"en": ["Mobile Asteroid Surface Scout", "Mascot"]},
        claims={"P31": ["Q763288"], "P361": ["Q2113134"], "P144": ["Q1041962"]},
    ),
    item("Q999999032", {"en": "Mascot"}, FIXTURE + "a disambiguation page", claims={"P31": ["Q4167410"]}),
    item("Q999999033", {"en": "MASCOT"}, FIXTURE + "a piece of software", claims={"P31": ["Q999999903"]}),
    # COP22: the search index still has the item that was merged (Q999999041 → Q999999042); a namesake
    # of 2022 elsewhere.
    item(
        "Q999999042",
        {"en": "2016 United Nations Climate Change Conference", "fr": "Conférence de Marrakech de 2016"},
        FIXTURE + "the conference in Marrakesh, November 2016",
        aliases={"en": ["COP22", "COP 22"], "fr": ["COP22"]},
        claims={"P31": ["Q999999904"], "P276": ["Q101625"], "P585": ["2016-11-07"]},
    ),
    item(
        "Q999999043",
        {"en": "COP22"},
        FIXTURE + "a namesake: another convention's 22nd conference of the parties, 2022",
        claims={"P31": ["Q999999904"], "P585": ["2022-11-14"]},
    ),
    # GOSAT: the search index still has a deleted item; the satellite.
    item(
        "Q999999052",
        {"en": "Greenhouse Gases Observing Satellite", "ja": "いぶき"},
        FIXTURE + "Japanese Earth observation satellite",
        aliases={"en": ["GOSAT"], "fr": ["GOSAT"]},
        claims={"P31": ["Q854845"], "P17": ["Q17"]},
    ),
    # IAC 2016: two conferences of 2016 named IAC; the congress was in Guadalajara.
    item(
        "Q999999061",
        {"en": "67th International Astronautical Congress"},
        FIXTURE + "congress in Guadalajara, September 2016",
        aliases={"en": ["IAC 2016"]},
        claims={"P31": ["Q2020153"], "P276": ["Q9022"], "P585": ["2016-09-26"]},
    ),
    item(
        "Q999999062",
        {"en": "IAC 2016"},
        FIXTURE + "a namesake: an aerosol conference",
        claims={"P31": ["Q2020153"], "P276": ["Q101625"], "P585": ["2016-09-04"]},
    ),
]

# Search entries of items that are no longer there as they were: the index still finds them by these
# labels (a merged item, a deleted one).
STALE_SEARCH = {
    "Q999999041": ("en", "COP22"),
    "Q999999051": ("en", "GOSAT"),
}
REDIRECTS = {"Q999999041": "Q999999042"}
DELETED = {"Q999999051"}

# Which fixture item is right for each unlinked entity, and the namesakes it must rank above.
RIGHT = {
    "thomas-pesquet": ("Q999999001", ["Q999999002"]),
    "masaaki-tanaka": ("Q999999013", ["Q999999011", "Q999999012"]),
    "isas": ("Q999999021", ["Q999999022"]),
    "mascot": ("Q999999031", ["Q999999033"]),
    "cop22": ("Q999999042", ["Q999999043"]),
    "gosat": ("Q999999052", []),
    "iac-2016": ("Q999999061", ["Q999999062"]),
}


def linked(rows: Iterable[tuple[str, str, dict[str, str], str]]) -> list[Json]:
    """The items of our confirmed links, from (entity, Q-id, recorded labels by language, main class):
    real ids and labels, the stand-in's descriptions."""
    return [
        item(
            qid,
            {lang: text for lang, text in labels.items() if text},
            f"stand-in description of {qid}",
            claims={"P31": [cls]} if cls else None,
        )
        for entity, qid, labels, cls in rows
    ]
