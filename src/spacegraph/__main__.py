"""``python -m spacegraph`` and the ``spacegraph`` command (``pyproject.toml``'s script)."""

import sys

from spacegraph.errors import SpacegraphError


def run() -> None:
    """The command, after the publication's settings (``spacegraph.toml``, read when our IRIs are first
    imported) have been read: a broken setting is one line and exit 2, never a traceback."""
    try:
        from spacegraph.cli import main
    except SpacegraphError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    run()
