# petitions: `make run` serves the app with the demo appeal; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint audit audit-strict translations upgrade demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changes.
$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

upgrade: $(VENV)/.installed-run
	$(FLASK) db upgrade

demo: upgrade
	$(FLASK) petitions demo

# Two workers run beside the server: the mail worker sends confirmations (to the log unless
# MAIL_SERVER is set) and closes petitions whose window has ended; the export worker builds the
# bundles organisers ask for. Ctrl+C stops all three.
run: demo
	@echo "Serving petitions on http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	@$(FLASK) mail worker & mail=$$!; $(FLASK) exports worker & exports=$$!; \
		trap 'kill $$mail $$exports 2>/dev/null' EXIT INT TERM; \
		$(FLASK) run --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every pin of requirements.txt against PyPI's vulnerability data: fails on a known
# vulnerability, and names under NOT AUDITED every pin the service cannot answer for. Some
# indexes answer only for a project's newest release, so `audit` goes on past those pins (they
# are still named) and `audit-strict`, for machines that reach the data, fails on them.
audit: $(VENV)/.installed-dev
	$(BIN)/python tests/audit_pins.py requirements.txt

audit-strict: $(VENV)/.installed-dev
	$(BIN)/python tests/audit_pins.py --strict requirements.txt

# axe-core and the Nu HTML Checker (vnu-jar), from npm, for the accessibility and HTML checks of
# tests/browser (never served to anyone). No install scripts: vnu-jar's would fetch a Java
# runtime from outside when the machine has none; the tests use the machine's Java.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the accessibility checks will be skipped (they fail with CI=true)"; fi

test: lint audit $(AXE)
	$(BIN)/pytest

# The inner loop: unit and integration tests on SQLite only (no PostgreSQL, Redis, lint, audit or
# browser), stopping at the first failure. `make test` still decides.
.PHONY: quick
quick: $(VENV)/.installed-dev
	$(BIN)/pytest -q -x -m "not postgres and not redis" tests/unit tests/integration

# Extract every string, merge it into the kk, ru and en catalogues (creating any that is missing),
# fill English from its source strings, and compile all three. `N_` marks the PDF's labels, each
# with its own context (petitions/delivery/model.py).
CATALOGUES := kk ru en
translations: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_:1c,2 --no-location \
		--sort-output --omit-header -o petitions/translations/messages.pot .
	@for language in $(CATALOGUES); do \
		test -f petitions/translations/$$language/LC_MESSAGES/messages.po || \
		$(BIN)/pybabel init -i petitions/translations/messages.pot -d petitions/translations \
			-l $$language || exit 1; \
	done
	$(BIN)/pybabel update -i petitions/translations/messages.pot -d petitions/translations \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/python -m petitions.catalogues petitions/translations/en/LC_MESSAGES/messages.po
	$(BIN)/pybabel compile -d petitions/translations --statistics

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
