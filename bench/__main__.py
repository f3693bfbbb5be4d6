"""``python -m bench``: the side-by-side benchmark (see ``bench/run.py``)."""

from bench.run import main

main()
