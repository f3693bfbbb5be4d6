"""The one exception spacegraph raises for bad input: it says what is wrong and where."""

from __future__ import annotations

import re
from pathlib import Path


class SpacegraphError(Exception):
    """Bad input, with its place: ``str()`` reads like ``data/text/agents.ttl:12:7: expected '.'``."""

    def __init__(
        self,
        message: str,
        path: Path | str | None = None,
        line: int | None = None,
        column: int | None = None,
        iri: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        self.iri = iri

    def __str__(self) -> str:
        place = ""
        if self.path is not None:
            place = str(self.path)
            if self.line is not None:
                place += f":{self.line}"
                if self.column is not None:
                    place += f":{self.column}"
            place += ": "
        subject = f"<{self.iri}>: " if self.iri else ""
        return f"{place}{subject}{self.message}"


def syntax_error(error: SyntaxError, path: Path) -> SpacegraphError:
    message = error.msg or str(error)
    # pyoxigraph says "Parser error at line 3 between columns 3 and 6: <what>"; keep the <what>.
    message = re.sub(r"^Parser error at line \d+ (?:between columns \d+ and \d+|column \d+): ", "", message)
    return SpacegraphError(message, path=path, line=error.lineno, column=error.offset)
