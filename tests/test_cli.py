"""What the ``spacegraph`` command loads: each command imports the libraries only it needs when it runs,
so that ``serve`` does not wait for those of ``build`` and ``validate``."""

from __future__ import annotations

import subprocess
import sys

BUILD_LIBRARIES = {"rdflib", "pyshacl", "pyld", "httpx", "jinja2"}  # jinja2: only once a page is rendered


def imported(*modules: str) -> set[str]:
    """The top-level packages loaded after importing ``modules`` in a fresh interpreter."""
    code = f"import sys; import {', '.join(modules)}; print(' '.join(sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in output.split()}


def test_serve_loads_none_of_the_build_libraries() -> None:
    loaded = imported("spacegraph.cli", "spacegraph.web.app", "spacegraph.config", "spacegraph.engine.store", "uvicorn")
    assert not loaded & BUILD_LIBRARIES


def test_the_command_alone_loads_none_of_them() -> None:
    assert not imported("spacegraph.cli") & BUILD_LIBRARIES
