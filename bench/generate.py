"""A deterministic generator of graphs shaped like ours, at any size from the real graph's upwards.

    .venv/bin/python -m bench.generate --size 100000 --output /tmp/spacegraph-100000.nq [--seed 7]

The output is N-Quads with exactly ``--size`` quads: the real graph (``dist/spacegraph.nq``: ontology,
shapes, metadata, data and enrichment graphs, so every query of the benchmark keeps its meaning), then
synthetic organisations, units, posts, persons, meetings, missions and evidence quotes (with their
text selectors) in the data graph, labels in English and French, and ``owl:sameAs`` links in the
enrichment graph. The same seed and size give the same bytes.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "dist" / "spacegraph.nq"

ID = "https://w3id.org/spacegraph/id/"
SG = "https://w3id.org/spacegraph/def/"
GRAPH = "https://w3id.org/spacegraph/graph/"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
ALT = "<http://www.w3.org/2004/02/skos/core#altLabel>"
ORG = "http://www.w3.org/ns/org#"
SDO = "https://schema.org/"
OA = "http://www.w3.org/ns/oa#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SAME_AS = "<http://www.w3.org/2002/07/owl#sameAs>"

# No "Tokyo" here: the benchmark's regex query then scans every label and matches the real graph's only.
CITIES = ["Paris", "Toulouse", "Kourou", "Houston", "Bangalore", "Noordwijk", "Darmstadt", "Tsukuba", "Moscow"]
COUNTRIES = ["france", "japan", "india", "germany", "italy", "united-states", "canada", "brazil"]
WORDS = ["space", "orbital", "lunar", "solar", "deep", "earth", "climate", "launch", "science", "exploration"]
GIVEN = ["Akira", "Jean", "Marie", "Yuki", "Priya", "Hans", "Lucia", "Carlos", "Anna", "Kenji", "Sophie", "Ravi"]
FAMILY = ["Tanaka", "Martin", "Dubois", "Sato", "Rao", "Müller", "Rossi", "Silva", "Okumura", "Bernard", "Ito"]
ROLES = ["president", "director-general", "head", "chief-scientist", "programme-manager"]
TARGETS = ["moon", "mars", "venus", "ryugu", "phobos", "jupiter"]


def iri(value: str) -> str:
    return f"<{value}>"


def literal(text: str, language: str | None = None, datatype: str | None = None) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if language:
        return f'"{escaped}"@{language}'
    if datatype:
        return f'"{escaped}"^^<{datatype}>'
    return f'"{escaped}"'


def bundle(number: int, rng: random.Random) -> Iterator[str]:
    """The quads of one synthetic cluster: an organisation with its units, posts, people, a meeting, a
    mission and the quotes that evidence them (about 130 quads)."""
    data = iri(GRAPH + "data")
    enrichment = iri(GRAPH + "enrichment")
    word = rng.choice(WORDS)
    country = rng.choice(COUNTRIES)
    organisation = iri(f"{ID}agency-{number}")
    name = f"{word.title()} Agency {number}"

    def quad(subject: str, predicate: str, value: str, graph: str = data) -> str:
        return f"{subject} {predicate} {value} {graph} .\n"

    quotes: list[str] = []

    def quote(about: str, text: str) -> Iterator[str]:
        node = f"{ID}quote/q{number}-{len(quotes)}"
        quotes.append(node)
        start = rng.randrange(0, 20_000)
        yield quad(iri(node), RDF_TYPE, iri(OA + "SpecificResource"))
        yield quad(iri(node), iri(OA + "hasSource"), iri(f"{ID}press-release-{number % 97}"))
        yield quad(iri(node), iri(OA + "hasSelector"), iri(node + "#text"))
        yield quad(iri(node), iri(OA + "hasSelector"), iri(node + "#position"))
        yield quad(iri(node + "#text"), RDF_TYPE, iri(OA + "TextQuoteSelector"))
        yield quad(iri(node + "#text"), iri(OA + "exact"), literal(text))
        yield quad(iri(node + "#position"), RDF_TYPE, iri(OA + "TextPositionSelector"))
        yield quad(iri(node + "#position"), iri(OA + "start"), literal(str(start), datatype=XSD + "integer"))
        yield quad(iri(node + "#position"), iri(OA + "end"), literal(str(start + len(text)), datatype=XSD + "integer"))
        yield quad(iri(about), iri(SG + "evidence"), iri(node))

    yield quad(organisation, RDF_TYPE, iri(ORG + "FormalOrganization"))
    yield quad(organisation, RDF_TYPE, iri(SDO + "GovernmentOrganization"))
    yield quad(organisation, LABEL, literal(name, "en"))
    yield quad(organisation, LABEL, literal(f"Agence {word} {number}", "fr"))
    yield quad(organisation, ALT, literal(f"SA{number}", "en"))
    yield quad(organisation, iri(SG + "country"), iri(ID + country))
    yield quad(organisation, SAME_AS, iri(f"http://www.wikidata.org/entity/Q{1_000_000 + number}"), enrichment)
    yield from quote(organisation[1:-1], f"{name} signed the agreement")
    units = [iri(f"{ID}agency-{number}-unit-{u}") for u in range(2)]
    for u, unit in enumerate(units):
        yield quad(unit, RDF_TYPE, iri(ORG + "OrganizationalUnit"))
        yield quad(unit, LABEL, literal(f"{name} directorate {u}", "en"))
        yield quad(unit, LABEL, literal(f"Direction {u} de l'agence {number}", "fr"))
        yield quad(unit, iri(ORG + "unitOf"), organisation)
    people = []
    for p in range(3):
        role = ROLES[p % len(ROLES)]
        post = iri(f"{ID}{role}-of-agency-{number}")
        person = iri(f"{ID}person-{number}-{p}")
        people.append(person)
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        yield quad(post, RDF_TYPE, iri(ORG + "Post"))
        yield quad(post, LABEL, literal(f"{role.replace('-', ' ').title()} of {name}", "en"))
        yield quad(post, LABEL, literal(f"{role.replace('-', ' ')} de l'agence {number}", "fr"))
        yield quad(post, iri(ORG + "postIn"), organisation if p == 0 else units[p % 2])
        yield quad(post, iri(ORG + "role"), iri(f"{ID}role-{role}"))
        yield quad(person, RDF_TYPE, iri(SDO + "Person"))
        yield quad(person, LABEL, literal(f"{given} {family}", "en"))
        yield quad(person, LABEL, literal(f"{given} {family}", "fr"))
        yield quad(person, iri(SDO + "givenName"), literal(given))
        yield quad(person, iri(SDO + "familyName"), literal(family))
        yield quad(person, iri(ORG + "holds"), post)
        yield from quote(person[1:-1], f"said {given} {family}, {role.replace('-', ' ')}")
    city = rng.choice(CITIES)
    meeting = iri(f"{ID}meeting-{number}")
    day = f"20{10 + number % 15:02d}-{1 + number % 12:02d}-{1 + number % 28:02d}"
    yield quad(meeting, RDF_TYPE, iri(SG + "Meeting"))
    yield quad(meeting, LABEL, literal(f"{name} meets its partners in {city}, {day}", "en"))
    yield quad(meeting, LABEL, literal(f"L'agence {number} rencontre ses partenaires à {city}, {day}", "fr"))
    yield quad(meeting, iri(SG + "date"), literal(day, datatype=XSD + "date"))
    yield quad(meeting, iri(SG + "location"), iri(ID + city.lower()))
    yield quad(meeting, iri(SG + "participant"), organisation)
    for person in people:
        yield quad(meeting, iri(SG + "participant"), person)
    yield from quote(meeting[1:-1], f"the meeting in {city} discussed {word} cooperation")
    mission = iri(f"{ID}mission-{number}")
    target = rng.choice(TARGETS)
    yield quad(mission, RDF_TYPE, iri(SG + "SpaceMission"))
    yield quad(mission, LABEL, literal(f"{word.title()} {target.title()} mission {number}", "en"))
    yield quad(mission, LABEL, literal(f"Mission {word} vers {target} {number}", "fr"))
    yield quad(mission, iri(SG + "partner"), organisation)
    yield quad(mission, iri(SG + "partner"), iri(f"{ID}agency-{number + 1 + rng.randrange(100)}"))
    yield quad(mission, iri(SG + "target"), iri(ID + target))
    yield from quote(mission[1:-1], f"the {target} mission will launch in {2030 + number % 10}")


def generate(size: int, output: Path, seed: int = 7, real: Path = REAL) -> int:
    """Write exactly ``size`` quads to ``output``; return that count."""
    if not real.is_file():
        raise ValueError(f"{real} is missing: run `spacegraph build` first (make serve does)")
    lines = [line for line in real.read_text(encoding="utf-8").splitlines(keepends=True) if line.strip()]
    if size < len(lines):
        raise ValueError(f"--size must be at least the real graph's {len(lines)} quads")
    rng = random.Random(seed)
    written = 0
    with output.open("w", encoding="utf-8") as out:
        out.writelines(lines)
        written = len(lines)
        number = 0
        while written < size:
            for line in bundle(number, rng):
                if written == size:
                    break
                out.write(line)
                written += 1
            number += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, required=True, help="quads to write (at least the real graph's)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    if not 0 < options.size <= 50_000_000:
        parser.error("--size must be in (0, 50000000]")
    try:
        count = generate(options.size, options.output, options.seed)
    except ValueError as error:
        parser.error(str(error))
    print(f"{options.output}: {count} quads")


if __name__ == "__main__":
    main()
