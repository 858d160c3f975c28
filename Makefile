# Waybill Console: `make run` starts the console, `make test` runs lint and every test.
# With no DATABASE_URL / REDIS_URL both start a private PostgreSQL and Redis under var/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
# test processes (pytest-xdist); 0 runs the suite in one process
TEST_WORKERS ?= 2

.PHONY: run test services services-down lint format bench load chromium translations clean audit \
	fresh-runtime

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

services: $(VENV)/.installed
	@$(PY) -m waybill_console.devservices up

services-down:
	@$(PY) -m waybill_console.devservices down

translations: $(VENV)/.installed
	@WBC_DEV_DEFAULTS=1 $(PY) manage.py compile_translations

run: services translations
	WBC_DEV_DEFAULTS=$${WBC_DEV_DEFAULTS:-1} $(PY) manage.py migrate --noinput
	WBC_DEV_DEFAULTS=$${WBC_DEV_DEFAULTS:-1} $(PY) manage.py collectstatic --noinput -v 0
	WBC_DEV_DEFAULTS=$${WBC_DEV_DEFAULTS:-1} $(PY) manage.py seed_demo --quiet --orders 500 --if-empty --waybills
	WBC_DEV_DEFAULTS=$${WBC_DEV_DEFAULTS:-1} PORT=$(PORT) $(PY) -m waybill_console.runner

chromium:
	@if [ -x "$(CHROMIUM)" ] && fc-list :lang=zh 2>/dev/null | grep -q .; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium and a Chinese font for the browser tests (apt-get)…"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	elif [ -x "$(CHROMIUM)" ]; then \
	  echo "Note: no Chinese font found; screenshots will show boxes (apt-get install fonts-wqy-microhei)."; \
	else \
	  echo "The browser tests need Chromium at $(CHROMIUM)."; \
	  echo "Install it (Debian/Ubuntu: sudo apt-get install chromium fonts-wqy-microhei)"; \
	  echo "or set CHROMIUM=/path/to/chromium."; \
	  exit 1; \
	fi

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r .

# pip-audit needs the vulnerability database online (PyPI JSON API or OSV): run it where
# the internet is reachable (see docs/security.md)
audit: $(VENV)/.installed-dev
	$(VENV)/bin/pip-audit -l --progress-spinner off

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(VENV)/.installed-dev chromium lint services translations
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# requirements.txt alone, in a throwaway virtualenv, starts web, worker and beat and runs a real
# Celery job (.ci/run calls it before `make test`: the dev tools cannot hide a missing module)
fresh-runtime:
	$(PYTHON) waybill_console/fresh_runtime.py

bench: $(VENV)/.installed-dev services
	WBC_DEV_DEFAULTS=1 $(PY) -m benchmarks $(BENCH_ARGS)

load: $(VENV)/.installed-dev services
	WBC_DEV_DEFAULTS=1 $(PY) -m load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) var/staticfiles
