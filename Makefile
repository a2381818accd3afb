# The two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/axero
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/15

.PHONY: run test lint smoke lock worker beat migrate clean dev-idp demo-data

# The dev lock: the runtime lock's exact versions plus test and lint tools, hashed.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $(STAMP)

PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

# Recompile the locks after editing requirements.in / requirements-dev.in (existing pins
# are kept where they still fit; `make lock PIP_COMPILE_ARGS=--upgrade` moves them on).
lock: $(STAMP)
	$(PIP_COMPILE) $(PIP_COMPILE_ARGS) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) $(PIP_COMPILE_ARGS) --output-file requirements-dev.txt requirements-dev.in

var/secret_key:
	mkdir -p var
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
	chmod 600 var/secret_key

# The local database: DATABASE_URL, or an embedded PostgreSQL with its data in var/pg
# (tests/tools/devdb.py starts it when needed). Shared by run, dev-idp and demo-data.
LOCAL_DB = url="$${DATABASE_URL:-}"; \
	if [ -z "$$url" ]; then \
		url="$$($(BIN)/python tests/tools/devdb.py)" || exit 1; \
		echo "DATABASE_URL=$$url (embedded PostgreSQL, data in var/pg)"; \
	fi

# Local run: PostgreSQL (see LOCAL_DB), DEBUG on, Celery tasks in-process, an admin account.
run: $(STAMP) var/secret_key
	@$(LOCAL_DB); \
	DATABASE_URL="$$url" SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" DEBUG="$${DEBUG:-true}" \
		IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS="$${IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS:-false}" \
		sh -c '$(BIN)/python manage.py migrate --no-input && \
		$(BIN)/python manage.py ensure_admin && \
		printf "%s\n" "" \
		"Try it: admin at http://127.0.0.1:8000/admin/ (Connections: set up an identity provider)." \
		"  Sign in with SSO: in a second terminal run  make dev-idp  then open" \
		"    http://127.0.0.1:8000/sso/dev-idp/login/  and pick a sample person." \
		"  A demo company (people, managers, roles, spaces, personas):  make demo-data" "" && \
		exec $(BIN)/python manage.py runserver 127.0.0.1:8000'

# A development identity provider on 127.0.0.1:8001, registered as connection dev-idp
# (DEBUG only; see "Try SSO locally" in the README).
dev-idp: $(STAMP) var/secret_key
	@$(LOCAL_DB); \
	DATABASE_URL="$$url" SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" DEBUG="$${DEBUG:-true}" \
		sh -c '$(BIN)/python manage.py migrate --no-input && exec $(BIN)/python manage.py dev_idp'

demo-data: $(STAMP) var/secret_key
	@$(LOCAL_DB); \
	DATABASE_URL="$$url" SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" DEBUG="$${DEBUG:-true}" \
		sh -c '$(BIN)/python manage.py migrate --no-input && $(BIN)/python manage.py demo_data'

# Whole suite on the real PostgreSQL and Redis: the PostgreSQL at DATABASE_URL (default
# DATABASE_URL_TEST), or, when nothing answers there, the embedded one in var/pg.
test: $(STAMP)
	@url="$$($(BIN)/python tests/tools/devdb.py --prefer "$${DATABASE_URL:-$(DATABASE_URL_TEST)}")" || exit 1; \
	echo "DATABASE_URL=$$url"; \
	DATABASE_URL="$$url" REDIS_URL="$${REDIS_URL:-$(REDIS_URL_TEST)}" \
		SECRET_KEY=test-secret-key-not-for-production \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=lint $(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/python tests/tools/complexity.py

# The production path, as CI runs it: runtime lock alone, real processes (tests/tools/smoke.py).
smoke: $(STAMP)
	$(BIN)/python tests/tools/smoke.py

worker: $(STAMP) var/secret_key
	SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" $(BIN)/celery -A axero_idp worker -l INFO

beat: $(STAMP) var/secret_key
	SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" $(BIN)/celery -A axero_idp beat -l INFO

clean:
	test ! -x $(BIN)/python || $(BIN)/python tests/tools/devdb.py --stop
	rm -rf $(VENV) var/pg var/smoke
