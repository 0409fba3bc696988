# `make up` starts the whole cloud on this machine; `make test` runs every check and test.
# Both create the virtualenv and install what they need on a fresh machine.
VENV     ?= .venv
PYTHON   ?= python3
STAMP    := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-12)
ARGS     ?=

.PHONY: up test lint unit functional integration bench bench-objectstore system-deps clean tempest

up: $(STAMP)
	$(VENV)/bin/stratus up $(ARGS)

test: system-deps $(STAMP) lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/unit

functional: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/functional

integration: system-deps $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/integration

bench: $(STAMP)
	$(VENV)/bin/python bench/identity.py

# Stratus against OpenStack Swift (installed in bench/.venv-swift on first run; needs the
# Debian packages liberasurecode-dev and memcached) on this machine
bench-objectstore: $(STAMP)
	$(VENV)/bin/python bench/objectstore.py $(ARGS)

# tempest's identity API tests against a fresh `stratus up` (tempest in its own .venv-tempest)
tempest: $(STAMP)
	VENV=$(VENV) PYTHON=$(PYTHON) scripts/tempest-identity.sh

system-deps:
	@if [ "$$(id -u)" = 0 ]; then scripts/system-deps.sh; else sudo scripts/system-deps.sh; fi

$(STAMP):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) build src/*.egg-info
