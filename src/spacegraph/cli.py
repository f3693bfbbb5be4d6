"""The ``spacegraph`` command. Exit codes: 0 fine, 1 the data does not conform, 2 unreadable input or
bad usage. Errors are one line on stderr, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from spacegraph import PROJECT_ROOT, __version__
from spacegraph.errors import SpacegraphError
from spacegraph.publish.graph import Sources, load
from spacegraph.publish.links import (
    CONTACT,
    WIKIDATA_API,
    WIKIDATA_SPARQL,
    check_offline,
    check_online,
    confirmed,
    quickstatements,
    read_record,
    release_url,
    render_report,
    wikidata_statements,
    write_record,
)
from spacegraph.publish.links import pending as pending_statements

# Each command imports what only it needs when it runs (rdflib and pyshacl for validate and build, pyld
# for build, uvicorn and FastAPI for serve): serve starts sooner without the others.
if TYPE_CHECKING:
    from spacegraph.publish.dumps import Build
    from spacegraph.publish.wikidata import Wikidata

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def fail(error: SpacegraphError) -> NoReturn:
    click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_UNREADABLE)


root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=PROJECT_ROOT,
    show_default="the project folder",
    help="Folder holding ontology/, data/, metadata/ and dist/.",
)


@click.group()
@click.version_option(__version__, prog_name="spacegraph")
def main() -> None:
    """Publish the spacegraph knowledge graph: a CNES press release of July 2016 as linked data."""


@main.command()
@click.argument("data", nargs=-1, type=click.Path(path_type=Path))
@root_option
def validate(data: tuple[Path, ...], root: Path) -> None:
    """Validate the ontology and DATA (files or folders; default: the project's data/) with the SHACL
    shapes and the integrity checks, and print a report."""
    from spacegraph.publish.validate import validate as run_validation

    try:
        report = run_validation(load(Sources.in_project(root, data)))
    except SpacegraphError as error:
        fail(error)
    click.echo(report.render())
    sys.exit(0 if report.conforms else EXIT_INVALID)


@main.group()
def links() -> None:
    """Check the Wikidata links, and write what our graph knows back as QuickStatements."""


RECORD = PROJECT_ROOT / "data" / "wikidata" / "links.tsv"


@links.command("check")
@click.option("--online", is_flag=True, help="Also compare the record with the items as the endpoint has them now.")
@click.option("--endpoint", default=WIKIDATA_SPARQL, show_default=True, help="SPARQL endpoint for --online.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the endpoint.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=RECORD, show_default=True)
def links_check(online: bool, endpoint: str, timeout: float, record: Path) -> None:
    """Check every confirmed link against its record and our graph (offline), and with --online
    against Wikidata: renamed, merged or redirected, deleted, class changed. Exit 1 on any error."""
    try:
        entries = read_record(record)
        problems = check_offline(entries, load(Sources.in_project()).store)
        if online:
            problems += check_online(entries, endpoint, timeout)
    except SpacegraphError as error:
        fail(error)
    click.echo(render_report(problems, len(confirmed(entries))))
    sys.exit(EXIT_INVALID if any(p.severity == "error" for p in problems) else 0)


def wikidata_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options every command that asks Wikidata shares: where, how politely, and which record."""
    options = [
        click.option("--api", default=WIKIDATA_API, show_default=True, help="Wikidata's Action API (api.php)."),
        click.option("--endpoint", default=WIKIDATA_SPARQL, show_default=True, help="Wikidata's SPARQL query service."),
        click.option(
            "--delay", default=0.5, show_default=True, type=click.FloatRange(min=0), help="Seconds between requests."
        ),
        click.option(
            "--retries", default=5, show_default=True, type=click.IntRange(min=0), help="Retries on 429, 5xx, maxlag."
        ),
        click.option(
            "--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds per answer."
        ),
        click.option(
            "--contact", default=CONTACT, show_default=True, help="Contact (URL or e-mail) in the User-Agent."
        ),
        click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=RECORD, show_default=True),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def wikidata_client(api: str, endpoint: str, delay: float, retries: int, timeout: float, contact: str) -> Wikidata:
    from spacegraph.publish.wikidata import Politeness, Wikidata

    politeness = Politeness(delay=delay, retries=retries, timeout=timeout)
    return Wikidata(api, endpoint, politeness, contact, notify=lambda message: click.echo(message, err=True))


@links.command("suggest")
@click.argument("entities", nargs=-1)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("wikidata-review.md"),
    show_default=True,
    help="The review file: Markdown, or TSV when the name ends in .tsv.",
)
@click.option("--limit", default=7, show_default=True, type=click.IntRange(1, 50), help="Search results per label.")
@wikidata_options
def links_suggest(entities: tuple[str, ...], output: Path, limit: int, record: Path, **wikidata: Any) -> None:
    """Search Wikidata for the items that may be ENTITIES (default: every unconfirmed row of the record),
    rank them by label, class and the context our graph holds, and write a review file with each
    candidate's score and why. Nothing is linked: a person decides with `links accept`."""
    from spacegraph.publish.candidates import Graph, review_markdown, review_tsv, suggest

    try:
        entries = read_record(record)
        graph = Graph(load(Sources.in_project()).store, entries)
        targets = list(entities) or [link.entity for link in entries if link.status == "unconfirmed"]
        for entity in targets:
            if not graph.exists(entity):
                raise SpacegraphError(f"id:{entity} is not in our graph")
        with wikidata_client(**wikidata) as client:
            found = []
            for entity in targets:
                found.append(suggest(graph, client, entity, limit))
                best = next((c for c in found[-1].candidates if c.excluded is None), None)
                shown = f"{best.qid} {best.item.label()!r} ({best.score:g})" if best else "no candidate"
                click.echo(f"id:{entity}: {shown}")
            asked = client.requests
        day = datetime.now(UTC).date().isoformat()
        header = (
            f"Retrieved {day} from {wikidata['api']} and {wikidata['endpoint']} "
            f"({asked} requests) by spacegraph {__version__}."
        )
        text = review_tsv(found) if output.suffix == ".tsv" else review_markdown(found, header)
        output.write_text(text, encoding="utf-8")
    except SpacegraphError as error:
        fail(error)
    click.echo(f"{len(found)} entities, review written to {output}", err=True)


@links.command("accept")
@click.argument("entity")
@click.argument("qid")
@wikidata_options
def links_accept(entity: str, qid: str, record: Path, **wikidata: Any) -> None:
    """Record a person's decision that ENTITY (our local name, e.g. isas) is the Wikidata item QID: the
    row gets the item's labels, description and main class, and the evidence (the API, the retrieval
    date, the claims that match our graph). Refused (exit 1) when the item is missing, merged, a wiki
    page, of the wrong kind, already linked, or its label does not match ours."""
    from spacegraph.publish.candidates import Graph
    from spacegraph.publish.decisions import Refused, accept

    try:
        entries = read_record(record)
        graph = Graph(load(Sources.in_project()).store, entries)
        with wikidata_client(**wikidata) as client:
            updated, row = accept(entries, graph, client, entity, qid, datetime.now(UTC).date())
        write_record(record, updated)
    except Refused as error:
        click.echo(f"refused: {error}", err=True)
        sys.exit(EXIT_INVALID)
    except SpacegraphError as error:
        fail(error)
    click.echo(
        f"id:{entity} is now linked to {row.qid} ({row.label_en}, {row.instance_of_label or row.instance_of_qid})"
    )


@links.command("refresh")
@wikidata_options
def links_refresh(record: Path, **wikidata: Any) -> None:
    """Fill the description and main class (and empty labels) of every linked item from Wikidata, and
    flag what a person must judge: a label that changed, an item merged or deleted. Exit 1 if flagged."""
    from spacegraph.publish.candidates import Graph
    from spacegraph.publish.decisions import refresh

    try:
        entries = read_record(record)
        graph = Graph(load(Sources.in_project()).store, entries)
        with wikidata_client(**wikidata) as client:
            done = refresh(entries, graph, client, datetime.now(UTC).date())
        write_record(record, done.record)
    except SpacegraphError as error:
        fail(error)
    for change in done.changes:
        click.echo(f"updated: {change}")
    click.echo(render_report(done.problems, len(confirmed(entries))))
    sys.exit(EXIT_INVALID if any(p.severity == "error" for p in done.problems) else 0)


@links.command("quickstatements")
@click.option(
    "--retrieved",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the press release was retrieved, for the references (default: today, UTC).",
)
@click.option(
    "--pending",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the statements whose items do not exist yet in Wikidata to this TSV file.",
)
def links_quickstatements(retrieved: datetime | None, pending: Path | None) -> None:
    """Print QuickStatements (V1, tab-separated) for what the press release states between linked
    items, each referenced to the release (URL, quote, retrieved date)."""
    day = retrieved.date() if retrieved else datetime.now(UTC).date()
    try:
        store = load(Sources.in_project()).store
        statements = wikidata_statements(store, read_record(RECORD))
        lines = quickstatements(statements, release_url(store), day)
    except SpacegraphError as error:
        fail(error)
    for line in lines:
        click.echo(line)
    waiting = pending_statements(statements)
    if pending is not None:
        pending.write_text("\n".join(waiting) + "\n", encoding="utf-8")
    click.echo(
        f"{len(lines)} statement(s) between linked items; {len(waiting) - 1} more need a Wikidata item first"
        + (f" (written to {pending})" if pending else " (use --pending FILE to list them)"),
        err=True,
    )


@main.command()
@click.argument("data", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    show_default="dist/ in the root folder",
    help="Where to publish: a link to the folder of the latest build, switched atomically.",
)
@root_option
def build(data: tuple[Path, ...], out: Path | None, root: Path) -> None:
    """Validate the ontology and DATA (files or folders; default: the project's data/), then publish the
    dumps (Turtle, N-Triples, JSON-LD, RDF/XML, TriG, N-Quads, each also gzipped), void.ttl and SHA256SUMS
    into OUT. Nothing is published unless the data conforms; the previous build stays in place until the
    new one is complete."""
    out = out if out is not None else root / "dist"
    result = publish(root, data, out)
    if result.report.findings:
        click.echo(result.report.render() + "\n")
    width = max(len(f.name) for f in result.files)
    for written in result.files:
        count = "" if written.count is None else f" {written.count:>9,} {written.unit}"
        click.echo(f"  {written.name:<{width}} {written.size:>11,} bytes{count}")
    click.echo(
        f"Built {out} -> {result.folder.name}: {len(result.files)} files, {result.size:,} bytes; "
        f"{result.triples:,} triples in {result.graphs} named graphs, {result.entities:,} entities."
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path),
    default=None,
    show_default="dist/spacegraph.nq, built first if missing",
    help="RDF file or folder to serve (N-Quads, TriG, Turtle, …); named graphs are kept.",
)
@root_option
@click.option("--endpoint", default=None, help="Front this external SPARQL 1.1 endpoint instead of loading data.")
@click.option(
    "--endpoint-version",
    default=None,
    metavar="TEXT",
    help="The --endpoint store's data will not change while this server runs; TEXT names it (e.g. the "
    "SHA-256 of the dump loaded into it). Turns on ETags, caching and replay for it.",
)
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="Query time limit, s.")
@click.option("--max-rows", default=10_000, show_default=True, type=click.IntRange(min=1), help="Rows per answer.")
@click.option(
    "--fragment-page-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1, max=10_000),
    help="Triples (or quads) in one page of a Triple Pattern Fragment at /fragments.",
)
@click.option(
    "--max-query-bytes", default=64 * 1024, show_default=True, type=click.IntRange(min=1), help="Size of a query."
)
@click.option(
    "--query-workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes evaluating queries, kept started; one is killed and replaced when a query passes the time limit.",
)
@click.option(
    "--max-query-workers",
    default=None,
    type=click.IntRange(min=1),
    show_default="--query-workers + --client-queries",
    help="Evaluations at once: more processes are started on demand up to this, and stopped after 30 s idle.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Server processes (uvicorn).")
@click.option(
    "--service-allow",
    multiple=True,
    metavar="URL",
    help="Allow SERVICE (federation) to this endpoint; repeatable. Default: SERVICE is refused.",
)
@click.option(
    "--worker-memory", default=2048, show_default=True, type=click.IntRange(min=256), help="MB per query worker."
)
@click.option(
    "--sandbox/--no-sandbox",
    default=True,
    show_default=True,
    help="Forbid network sockets in query workers that need none (Linux seccomp).",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
@click.option(
    "--client-queries",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Evaluations one client address may have running at once; more wait their turn (see Under load).",
)
@click.option(
    "--client-queue",
    default=32,
    show_default=True,
    type=click.IntRange(min=0),
    help="Evaluations one client address may have waiting for their turn; more get 503 with Retry-After.",
)
@click.option(
    "--client-budget",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds of evaluation time one client address may use a minute (and save up); past it, 429 with Retry-After.",
)
@click.option("--max-parameters", default=100, show_default=True, type=click.IntRange(min=1), help="URI parameters.")
@click.option("--max-headers", default=100, show_default=True, type=click.IntRange(min=1), help="Header fields.")
@click.option(
    "--body-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds to send a body."
)
@click.option(
    "--shutdown-timeout",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="On SIGTERM, seconds in-flight requests get to finish.",
)
@click.option(
    "--access-log",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Where the JSON access log goes: a file (appended to), - for stderr, or 'off'.",
)
@click.option("--log-queries", is_flag=True, help="Put each query's text in the access log (default: kind and hash).")
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1,::1",
    show_default=True,
    help="Reverse proxies whose X-Forwarded-For gives the client address (comma-separated; * for any).",
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="Where the public reaches this server behind a proxy (https://data.example.org/): links, the sitemap, "
    "the description's access URLs and canonical links name it. Default: local links, public addresses "
    "under the IRIs' base (https://w3id.org/spacegraph/).",
)
def serve(
    host: str,
    port: int,
    data_path: Path | None,
    root: Path,
    endpoint: str | None,
    endpoint_version: str | None,
    timeout: float,
    max_rows: int,
    fragment_page_size: int,
    max_query_bytes: int,
    query_workers: int,
    max_query_workers: int | None,
    workers: int,
    service_allow: tuple[str, ...],
    worker_memory: int,
    sandbox: bool,
    log_level: str,
    client_queries: int,
    client_queue: int,
    client_budget: float,
    max_parameters: int,
    max_headers: int,
    body_timeout: float,
    shutdown_timeout: int,
    access_log: str,
    log_queries: bool,
    forwarded_allow_ips: str,
    public_url: str | None,
) -> None:
    """Serve the graph: SPARQL 1.1 Protocol at /sparql (read-only), Graph Store Protocol at /store,
    Triple and Quad Pattern Fragments at /fragments, OpenAPI documentation at /docs. Without --data or
    --endpoint, serves dist/spacegraph.nq, building dist/ first when it is missing.

    Under load, every evaluation (queries, graphs, pages) is scheduled fairly between client addresses
    (the peer, or X-Forwarded-For from --forwarded-allow-ips): each runs at most --client-queries
    evaluations at once and queues the rest (--client-queue), turns go to the client that has used the
    least evaluation time, identical queries in flight are evaluated once, and a client that uses more
    than --client-budget seconds of evaluation a minute gets 429 with Retry-After. Workers beyond
    --query-workers start on demand, up to --max-query-workers, so that one client never holds them all.
    A query past --timeout gets 504 and its worker is killed."""
    import asyncio

    import uvicorn
    import uvloop

    from spacegraph.config import Config
    from spacegraph.engine.store import make_backend
    from spacegraph.web.server import options as server_options

    if endpoint is not None and data_path is not None:
        raise click.UsageError("give --data or --endpoint, not both")
    data: tuple[Path, ...] = ()
    if endpoint is None:
        data = (data_path if data_path is not None else default_dump(root),)
    try:
        config = Config(
            data=data,
            endpoint=endpoint,
            endpoint_version=endpoint_version,
            timeout=timeout,
            max_rows=max_rows,
            fragment_page_size=fragment_page_size,
            max_query_bytes=max_query_bytes,
            query_workers=query_workers,
            max_query_workers=max_query_workers,
            service_allow=service_allow,
            worker_memory_mb=worker_memory,
            sandbox=sandbox,
            client_queries=client_queries,
            client_queue=client_queue,
            client_budget=client_budget,
            max_parameters=max_parameters,
            max_headers=max_headers,
            body_timeout=body_timeout,
            access_log=None if access_log == "off" else access_log,
            log_queries=log_queries,
            public_url=public_url,
        )
        backend = make_backend(config)
    except SpacegraphError as error:
        fail(error)
    source = endpoint or ", ".join(str(path) for path in data)
    uvicorn_options = server_options(
        timeout_graceful_shutdown=shutdown_timeout, forwarded_allow_ips=forwarded_allow_ips, log_level=log_level
    )

    def web_app() -> Callable[..., Any]:
        from spacegraph.web.app import create_app

        return create_app

    async def run() -> None:
        # The graph loads in its own process while this one imports the web app (FastAPI is most of a
        # start's time); here, so that a graph that cannot be loaded is one line, not a traceback.
        starting = asyncio.ensure_future(backend.start())
        create_app = await asyncio.to_thread(web_app)
        await starting
        if workers > 1:  # each server process starts its own backend: this one only proved the data loads
            await backend.close()
            return
        app = create_app(config, backend)
        shown = "[::1]" if host == "::1" else host
        click.echo(f"spacegraph {__version__}: serving {source} at http://{shown}:{port}/sparql", err=True)
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="on", **uvicorn_options)).serve()

    try:
        uvloop.run(run())
    except SpacegraphError as error:
        fail(error)
    if workers > 1:
        import os

        from spacegraph.web.app import CONFIG_VARIABLE

        os.environ[CONFIG_VARIABLE] = config.to_json()
        click.echo(f"spacegraph {__version__}: serving {source} with {workers} processes on port {port}", err=True)
        uvicorn.run(
            "spacegraph.web.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options,
        )


def publish(root: Path, data: tuple[Path, ...], out: Path) -> Build:
    """``spacegraph build`` of the project under ``root`` into ``out``; on bad data, the report and exit 1;
    on unreadable input, one line and exit 2."""
    from spacegraph.publish import dumps

    try:
        return dumps.build(
            Sources.in_project(root, data),
            out,
            description=root / "metadata" / "dataset.ttl",
            context=root / "ontology" / "context.jsonld",
        )
    except dumps.InvalidDataError as error:
        click.echo(error.report.render())
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID)
    except SpacegraphError as error:
        fail(error)


def default_dump(root: Path) -> Path:
    """``dist/spacegraph.nq`` under ``root``, built first when it is missing; refused when it was built
    under another base than ``spacegraph.toml``'s (its IRIs would not be the ones this server answers)."""
    from spacegraph.namespaces import BASE
    from spacegraph.web.publication import built_base

    dump = root / "dist" / "spacegraph.nq"
    if dump.exists():
        built = built_base(dump.parent)
        if built is not None and built != BASE:
            why = f"built under the base {built}, not {BASE} (spacegraph.toml): run `spacegraph build`"
            fail(SpacegraphError(why, path=dump.parent))
        return dump
    click.echo(f"{dump} is missing: building {root / 'dist'} first", err=True)
    publish(root, (), root / "dist")
    return dump
