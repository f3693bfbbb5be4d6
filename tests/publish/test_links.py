"""`spacegraph links check` and `spacegraph links quickstatements`, driven through the CLI; the online
check against a real Oxigraph server loaded with a Wikidata-shaped stand-in."""

from __future__ import annotations

import contextlib
import csv
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from spacegraph import PROJECT_ROOT
from spacegraph.cli import main
from spacegraph.publish.links import COLUMNS, Link, confirmed, read_record
from tests.servers import oxigraph_server

RECORD = PROJECT_ROOT / "data" / "wikidata" / "links.tsv"
WD = "http://www.wikidata.org/entity/"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write_record(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_project_links_pass_the_offline_check() -> None:
    result = run("links", "check")
    assert result.exit_code == 0, result.output
    assert re.search(r"^OK: 25 link\(s\) checked, 0 error\(s\), \d+ warning\(s\)\.$", result.stdout, re.MULTILINE)


OFFLINE_CASES = [
    (
        {
            "entity": "thomas-pesquet",
            "qid": "Q1",
            "label_en": "Thomas Pesquet",
            "instance_of_qid": "Q215380",
            "instance_of_label": "musical group",
        },
        "error: id:thomas-pesquet (Q1): a person linked to an item of class Q215380 (musical group), not Q5 (human)",
    ),
    (
        {"entity": "jaxa", "qid": "Q2", "label_en": "JAXA", "instance_of_qid": "Q5", "instance_of_label": "human"},
        "error: id:jaxa (Q2): a org:FormalOrganization, schema:GovernmentOrganization linked to a human (Q5)",
    ),
    (
        {
            "entity": "mars",
            "qid": "Q3",
            "label_en": "Mars",
            "instance_of_qid": "Q4167410",
            "instance_of_label": "Wikimedia disambiguation page",
        },
        "error: id:mars (Q3): the item is a Q4167410 (Wikimedia disambiguation page), not a thing in the world",
    ),
    (
        {"entity": "tokyo", "qid": "Q4", "label_en": "Kyoto", "instance_of_qid": "Q515", "instance_of_label": "city"},
        "error: id:tokyo (Q4): our labels ['Tokyo', '東京'] do not match the item's 'Kyoto'",
    ),
    (
        {"entity": "tokio", "qid": "Q5", "label_en": "Tokyo"},
        "error: id:tokio (Q5): not in our graph (no resource with a type has this IRI)",
    ),
]


@pytest.mark.parametrize(
    ("row", "message"), OFFLINE_CASES, ids=["namesake", "human", "disambiguation", "label", "typo"]
)
def test_a_bad_link_fails_the_offline_check(tmp_path: Path, row: dict[str, str], message: str) -> None:
    record = write_record(tmp_path / "links.tsv", [{**row, "status": "confirmed"}])
    result = run("links", "check", "--record", record)
    assert result.exit_code == 1
    assert message in result.stdout.splitlines(), result.stdout
    assert result.stdout.rstrip().endswith("FAILED: 1 link(s) checked, 1 error(s), 0 warning(s).")


def test_two_entities_on_one_item_fail_the_offline_check(tmp_path: Path) -> None:
    rows = [
        {"entity": "mars", "qid": "Q111", "status": "confirmed", "label_en": "Mars", "instance_of_qid": "Q634"},
        {"entity": "mercury", "qid": "Q111", "status": "confirmed", "label_en": "Mercury", "instance_of_qid": "Q634"},
    ]
    result = run("links", "check", "--record", write_record(tmp_path / "links.tsv", rows))
    assert result.exit_code == 1
    assert "error: Q111: linked from more than one of our entities: id:mars, id:mercury" in result.stdout


def test_a_malformed_record_is_an_unreadable_input(tmp_path: Path) -> None:
    record = write_record(tmp_path / "links.tsv", [{"entity": "mars", "qid": "Q111", "status": "maybe"}])
    result = run("links", "check", "--record", record)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {record}:2: unknown status 'maybe' (expected one of confirmed, unconfirmed, not-modelled)\n"
    )


# --- Online, against a local stand-in --------------------------------------------------------------


def literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"@en'


def stand_in(links: list[Link], wrong: str, redirected: str, deleted: str) -> str:
    """N-Triples shaped like Wikidata's: what each item says now, with three faults planted."""
    lines = []
    for link in links:
        item = f"<{WD}{link.qid}>"
        if link.entity == deleted:
            continue
        if link.entity == redirected:
            lines.append(f"{item} <http://www.w3.org/2002/07/owl#sameAs> <{WD}Q999999999> .")
            continue
        label, cls = (link.label_en, link.instance_of_qid) if link.entity != wrong else ("Carol I of Romania", "Q5")
        lines.append(f"{item} <http://www.w3.org/2000/01/rdf-schema#label> {literal(label or link.entity)} .")
        if link.description_en:
            lines.append(f"{item} <http://schema.org/description> {literal(link.description_en)} .")
        if cls:
            lines.append(f"{item} <http://www.wikidata.org/prop/direct/P31> <{WD}{cls}> .")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def wikidata_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    links = confirmed(read_record(RECORD))
    with oxigraph_server(tmp_path_factory.mktemp("wikidata")) as base:
        data = stand_in(links, wrong="cnes", redirected="jaxa", deleted="ryugu")
        response = httpx.post(
            f"{base}/store?default",
            content=data.encode(),
            headers={"Content-Type": "application/n-triples"},
            timeout=30,
        )
        assert response.status_code in (200, 201, 204), response.text
        yield f"{base}/query"


def test_the_online_check_reports_a_wrong_item_a_redirect_and_a_deletion(wikidata_stand_in: str) -> None:
    result = run("links", "check", "--online", "--endpoint", wikidata_stand_in)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    cnes = next(link for link in read_record(RECORD) if link.entity == "cnes")
    expected = [
        f"error: id:cnes (Q48756): renamed: recorded {cnes.label_en!r}, now 'Carol I of Romania'",
        "error: id:jaxa (Q179103): merged or redirected to Q999999999",
        "error: id:ryugu (Q1385178): deleted: the endpoint knows nothing of this item",
    ]
    if cnes.instance_of_qid:
        expected.insert(1, f"error: id:cnes (Q48756): class changed: recorded {cnes.instance_of_qid}, now Q5")
    assert errors == expected


def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        result = run("links", "check", "--online", "--endpoint", f"http://127.0.0.1:{port}/sparql", "--timeout", "5")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot reach the endpoint http://127.0.0.1:{port}/sparql: ")
    assert "Traceback" not in result.output


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        server.close()


def test_a_slow_endpoint_times_out() -> None:
    with silent_server() as port:
        result = run("links", "check", "--online", "--endpoint", f"http://127.0.0.1:{port}/sparql", "--timeout", "0.5")
    assert result.exit_code == 2
    assert result.stderr == f"error: the endpoint http://127.0.0.1:{port}/sparql did not answer within 0.5 s\n"


# --- QuickStatements ----------------------------------------------------------------------------------

URL = '"https://presse.cnes.fr/en/france-japan-space-cooperation-cnes-meets-japanese-partners-tokyo-preparation-climate-strand-iac"'
TOKYO = "Friday 22 July in Tokyo, CNES President Jean-Yves Le Gall met the agency\u2019s Japanese partners"


def statement(subject: str, prop: str, obj: str, quote: str) -> str:
    return "\t".join([subject, prop, obj, "S854", URL, "S1683", f'en:"{quote}"', "S813", "+2026-11-25T00:00:00Z/11"])


def test_quickstatements_are_exactly_what_the_release_states_between_linked_items(tmp_path: Path) -> None:
    pending = tmp_path / "pending.tsv"
    result = run("links", "quickstatements", "--retrieved", "2026-11-25", "--pending", pending)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        statement("Q113169", "P1444", "Q308", "the BepiColombo mission to Mercury"),
        statement("Q6005", "P17", "Q17", TOKYO),
        statement("Q48756", "P17", "Q142", "Japan being one of France\u2019s key partners in space"),
        statement("Q179103", "P17", "Q17", TOKYO),
        statement("Q1054379", "P17", "Q17", TOKYO),
    ]
    for line in result.stdout.splitlines():  # QuickStatements V1: item, property, value, then reference pairs
        fields = line.split("\t")
        assert (
            re.fullmatch(r"Q\d+", fields[0]) and re.fullmatch(r"P\d+", fields[1]) and re.fullmatch(r"Q\d+", fields[2])
        )
        assert fields[3::2] == ["S854", "S1683", "S813"]
    rows = list(csv.DictReader(pending.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    assert {
        "subject": "id:mascot",
        "subject_item": "(none)",
        "property": "P144",
        "object": "id:philae",
        "object_item": "Q1041962",
    }.items() <= next(r for r in rows if r["property"] == "P144").items()
    assert all(r["subject_item"] == "(none)" or r["object_item"] == "(none)" for r in rows)
    assert result.stderr.startswith(f"5 statement(s) between linked items; {len(rows)} more need a Wikidata item first")
