# The two entry points do all their own set-up on a fresh machine:
#   make serve      set up, build dist/ (validating first) and serve it on http://127.0.0.1:8000/
#   make test       set up (Python, npm and Debian packages), then lint, type-check and run every test
# `make lock` refreshes requirements.lock from pyproject.toml (see README, "Dependencies").

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# graphviz draws the ontology diagram at build time (and the neighbourhood pictures when serving);
# the rest are for the tests: raptor's rapper, Chromium for the browser tests, wrk for the
# benchmark's, nginx for docs/nginx-cache.conf's and docs/deploy/'s (with openssl's throw-away
# certificate and curl's HTTP/2), Apache for the w3id.org rules, systemd for systemd-analyze, fonts
# for Japanese.
SERVE_DEBIAN_PACKAGES := graphviz fonts-noto-cjk fonts-dejavu-core
TEST_DEBIAN_PACKAGES := $(SERVE_DEBIAN_PACKAGES) raptor2-utils chromium wrk nginx apache2 openssl curl systemd

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve build validate test check setup node-deps serve-system-deps test-system-deps debian-packages lock

serve: setup node-deps serve-system-deps
	$(BIN)/python -m compileall -q src  # as pip does for an installed package: a start does not compile
	$(BIN)/spacegraph build
	$(BIN)/spacegraph serve --host $(HOST) --port $(PORT)

build: setup serve-system-deps
	$(BIN)/spacegraph build

validate: setup
	$(BIN)/spacegraph validate

test: setup node-deps test-system-deps check
	$(BIN)/pytest

check: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node-deps: node_modules/.installed bench/ldf/node_modules/.installed

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The Linked Data Fragments server that bench/fragments.py measures beside ours, in its own folder (its
# Components.js loader reads every package under node_modules). --ignore-scripts: its HDT back-end's
# native build is not needed, the benchmark serves N-Triples.
bench/ldf/node_modules/.installed: bench/ldf/package-lock.json
	cd bench/ldf && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

serve-system-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(SERVE_DEBIAN_PACKAGES)"

test-system-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(TEST_DEBIAN_PACKAGES)"

debian-packages:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lock: setup
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock
