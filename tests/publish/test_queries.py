"""The competency questions in queries/, each with its exact answer, worked out from the press release.

These are the example queries shown to users, so their answers are pinned here row by row.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.publish.graph import LoadedGraph

QUERIES = PROJECT_ROOT / "queries"
ID = "https://w3id.org/spacegraph/id/"
DATA = "https://w3id.org/spacegraph/graph/data"
ENRICHMENT = "https://w3id.org/spacegraph/graph/enrichment"
WD = "http://www.wikidata.org/entity/"

Row = tuple[str | None, ...]


def answer(loaded: LoadedGraph, name: str) -> list[Row]:
    results = loaded.store.query((QUERIES / name).read_text(encoding="utf-8"), use_default_graph_as_union=True)
    assert isinstance(results, ox.QuerySolutions)
    variables = results.variables
    return [tuple(None if row[v] is None else row[v].value for v in variables) for row in results]


def test_every_query_is_commented_and_pinned_here() -> None:
    names = sorted(p.name for p in QUERIES.glob("*.rq"))
    assert names == sorted(EXPECTED)
    for name in names:
        first = (QUERIES / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# ") and first.endswith("?"), f"{name} must open with its question"


EXPECTED: dict[str, list[Row]] = {
    "01-who-met-in-tokyo.rq": [
        (ID + "jean-yves-le-gall", "Jean-Yves Le Gall", "President of CNES", "CNES"),
        (
            ID + "masaaki-tanaka",
            "Masaaki Tanaka",
            "Director General of the Research and Development Bureau at MEXT",
            "Research and Development Bureau",
        ),
        (ID + "naoki-okumura", "Naoki Okumura", "President of JAXA", "Japan Aerospace Exploration Agency"),
        (
            ID + "saku-tsuneta",
            "Saku Tsuneta",
            "Director General of ISAS",
            "Institute of Space and Astronautical Science",
        ),
        (
            ID + "shuzo-takada",
            "Shuzo Takada",
            "Director General of the National Space Policy Secretariat",
            "National Space Policy Secretariat",
        ),
    ],
    "02-units-and-parents.rq": [
        ("National Space Policy Secretariat", "Cabinet Office", DATA),
        ("ESA Ministerial Council", "ESA", DATA),
        ("Institute of Space and Astronautical Science", "Japan Aerospace Exploration Agency", ENRICHMENT),
        ("Research and Development Bureau", "Ministry of Education, Culture, Sports, Science and Technology", DATA),
    ],
    "03-climate.rq": [
        ("MERLIN", "space mission", "France"),
        ("MicroCarb", "space mission", "France"),
        ("GOSAT", "satellite", "Japan"),
    ],
    "04-exploration.rq": [
        ("BepiColombo", "Mercury", DATA, None, None),
        ("Hayabusa-2", "162173 Ryugu", ENRICHMENT, None, None),
        ("MASCOT", None, None, "Hayabusa-2", "Philae"),
        ("MMX", "Deimos", DATA, None, None),
        ("MMX", "Mars", DATA, None, None),
        ("MMX", "Phobos", DATA, None, None),
    ],
    "05-upcoming-events.rq": [
        ("COP22", "Marrakesh", "2016"),
        ("IAC 2016", "Guadalajara", "2016"),
        ("Implementation of the COP21 decisions", None, "2016"),
        ("Meeting of the ESA Ministerial Council in Lucerne", "Lucerne", "2016"),
        ("Thomas Pesquet's mission to the International Space Station", None, "2016"),
    ],
    "06-october-2015-and-march-2016.rq": [
        ("2015-10", "Bilateral CNES-JAXA meeting, October 2015"),
        ("2015-10", "CNES-JAXA cooperation agreement of October 2015"),
        ("2015-10", "Plan for sustainable development, health and security in Africa"),
        ("2016-03", "First meeting of the France-Japan dialogue on space, March 2016"),
    ],
    "07-le-gall-statement.rq": [
        (
            "Jean-Yves Le Gall",
            "I would like to thank all of our Japanese partners with whom we are pursuing our effective, "
            "resolutely forward-looking cooperation in many areas. Be it in our efforts to combat climate change, "
            "increasingly spectacular exploration programmes or future launch vehicles, cooperation with Japan is "
            "more than ever before at the cutting edge of innovation.",
            "CNES meets its Japanese partners in Tokyo, 22 July 2016",
        )
    ],
    "08-wikidata-links.rq": [
        (ID + slug, name, WD + qid)
        for slug, name, qid in [
            ("ryugu", "162173 Ryugu", "Q1385178"),
            ("africa", "Africa", "Q15"),
            ("bepicolombo", "BepiColombo", "Q113169"),
            ("cnes", "CNES", "Q48756"),
            ("cabinet-office", "Cabinet Office", "Q6005"),
            ("deimos", "Deimos", "Q7548"),
            ("esa", "ESA", "Q42262"),
            ("france", "France", "Q142"),
            ("guadalajara", "Guadalajara", "Q9022"),
            ("hayabusa2", "Hayabusa-2", "Q2113134"),
            ("iss", "International Space Station", "Q25271"),
            ("japan", "Japan", "Q17"),
            ("jaxa", "Japan Aerospace Exploration Agency", "Q179103"),
            ("lucerne", "Lucerne", "Q4191"),
            ("manuel-valls", "Manuel Valls", "Q10287"),
            ("marrakesh", "Marrakesh", "Q101625"),
            ("mars", "Mars", "Q111"),
            ("mercury", "Mercury", "Q308"),
            ("mext", "Ministry of Education, Culture, Sports, Science and Technology", "Q1054379"),
            ("philae", "Philae", "Q1041962"),
            ("phobos", "Phobos", "Q7547"),
            ("rosetta", "Rosetta", "Q48572"),
            ("shinzo-abe", "Shinzo Abe", "Q132345"),
            ("southeast-asia", "Southeast Asia", "Q11708"),
            ("tokyo", "Tokyo", "Q1490"),
        ]
    ],
    "09-evidence.rq": [
        (
            "Space exploration, with the Hayabusa-2 asteroid mission and its Mascot lander derived from Philae",
            "1863",
            "1960",
        )
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_query_gives_its_exact_answer(loaded: LoadedGraph, name: str) -> None:
    assert answer(loaded, name) == EXPECTED[name]
