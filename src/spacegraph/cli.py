"""The ``spacegraph`` command. Exit codes: 0 fine, 1 the data does not conform, 2 unreadable input or
bad usage. Errors are one line on stderr, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from spacegraph import __version__
from spacegraph.errors import SpacegraphError
from spacegraph.graph import PROJECT_ROOT, Sources, load
from spacegraph.validate import validate as run_validation

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def fail(error: SpacegraphError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_UNREADABLE)


@click.group()
@click.version_option(__version__, prog_name="spacegraph")
def main() -> None:
    """Publish the spacegraph knowledge graph: a CNES press release of July 2016 as linked data."""


@main.command()
@click.argument("data", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=PROJECT_ROOT,
    show_default="the project folder",
    help="Folder holding ontology/ and data/.",
)
def validate(data: tuple[Path, ...], root: Path) -> None:
    """Validate the ontology and DATA (files or folders; default: the project's data/) with the SHACL
    shapes and the integrity checks, and print a report."""
    try:
        report = run_validation(load(Sources.in_project(root, data)))
    except SpacegraphError as error:
        fail(error)
    click.echo(report.render())
    sys.exit(0 if report.conforms else EXIT_INVALID)
