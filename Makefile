# petitions: `make run` serves the app with the demo appeal; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint audit translations upgrade demo clean

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
# vulnerability, and (unless AUDIT_UNANSWERED=warn) when the service cannot answer for a pin.
audit: $(VENV)/.installed-dev
	$(BIN)/python tools/audit_pins.py requirements.txt

test: lint audit
	$(BIN)/pytest

# Extract every string, merge it into the kk and ru catalogues, and compile them.
translations: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--omit-header -o petitions/translations/messages.pot .
	$(BIN)/pybabel update -i petitions/translations/messages.pot -d petitions/translations \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d petitions/translations --statistics

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
