"""Schemathesis against the app's own OpenAPI document, over a real uvicorn on 127.0.0.1, with every check
on and a bounded number of examples per operation: zero failures.

One setting is ours: ``positive_data_acceptance`` also accepts 400 and 406 for schema-valid requests,
because what makes a SPARQL query, an IRI or a ``format`` (a short name or any media type) valid cannot
be said in JSON Schema — a random string is schema-valid and still a malformed query."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spacegraph.config import Config
from spacegraph.web.app import create_app
from tests.support import running, write_nquads

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SETTINGS = """\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "406", "409", "429", "5xx"]
"""


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    nquads = write_nquads(tmp_path / "spacegraph.nq")
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(SETTINGS)
    app = create_app(Config(data=(nquads,), timeout=2, client_queries=64))
    with running(app) as base:
        command = [str(SCHEMATHESIS), "--config-file", str(settings), "run", f"{base}/openapi.json"]
        command += ["--checks", "all", "--max-examples", "40", "--seed", "1", "--request-timeout", "10"]
        command += ["--report-dir", str(tmp_path / "reports")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert "Tested: " in summary and "failures" not in summary and "passed" in summary
    tested = int(summary.split("Tested: ")[1].split()[0])
    assert tested >= 6  # /sparql (GET, POST), /store, /health, /ready, /metrics at least
