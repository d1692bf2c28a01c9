# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test venv lint format messages bench bench-renewals bench-api bench-webhooks bench-load bench-pages drills clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Links in e-mails (the demo data's too) point at the port the portal runs on.
PORTAL_BASE_URL ?= http://127.0.0.1:$(PORT)

run: venv
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 PORTAL_BASE_URL=$(PORTAL_BASE_URL) $(BIN)/python manage.py seed_demo
	DEBUG=1 PORT=$(PORT) PORTAL_BASE_URL=$(PORTAL_BASE_URL) scripts/run.sh

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=0 SECRET_KEY=deploy-check-$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n') \
		KEY_PEPPER=deploy-check-pepper MFA_SECRET_KEYS=$$($(BIN)/python -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())") ALLOWED_HOSTS=portal.example REDIS_URL=redis://127.0.0.1:6379/0 \
		$(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Needs GNU gettext (developers only): extracts strings, gives the French its typography
# (scripts/french_typography.py) and compiles the catalogues.
messages: venv
	DEBUG=1 $(BIN)/python manage.py makemessages -l fr --no-obsolete --ignore=.venv --ignore=var --ignore=staticfiles --ignore=bench
	$(BIN)/python scripts/french_typography.py
	for po in locale_libraries/fr/LC_MESSAGES/*.po; do $(BIN)/python scripts/french_typography.py $$po; done
	DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv

bench: venv
	$(BIN)/python bench/run.py

bench-renewals: venv
	$(BIN)/python bench/renewals.py

bench-api: venv
	$(BIN)/python bench/api.py

bench-webhooks: venv
	$(BIN)/python bench/webhooks.py

# Needs wrk (Debian: apt-get install -y wrk); README "Load (issue 20)" in bench/README.md.
bench-load: venv
	@command -v wrk >/dev/null || { echo "bench-load needs wrk: apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/load.py

# The fault drills (README "Fault drills", issue 21): each starts its own PostgreSQL, Redis and
# mail server and breaks them under a running cluster. Several minutes: never part of `make
# test`. DRILLS="postgres redis" runs some of them.
drills: venv
	$(BIN)/python -m drills $(DRILLS)

# bench-load's pages in one process (no gunicorn, no wrk): what one request costs, and where.
bench-pages: venv
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
