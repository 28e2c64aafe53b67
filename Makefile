# Fairslot: the one command surface. `make run` on a fresh clone sets everything up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test check bench fmt messages clean

# Finds Python >= 3.12 (PYTHON=... overrides), creates .venv, installs pinned dependencies.
$(STAMP): requirements.txt requirements-dev.txt
	@scripts/find-python.sh > /dev/null
	@test -x $(PY) || $$(scripts/find-python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@scripts/run.sh

test: $(STAMP)
	@scripts/test.sh $(ARGS)

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	@scripts/check-deploy.sh

# Engine benchmark always; the service benchmarks need PostgreSQL and Redis (see docs/benchmarks.md).
bench: $(STAMP)
	$(PY) bench/draw.py
	@if [ -n "$$BENCH_DATABASE_URL" ] && [ -n "$$REDIS_URL" ]; then \
	  DATABASE_URL="$${BENCH_DATABASE_URL}" $(PY) bench/registration.py --clients 8 --rounds 10 --phase-seconds 4 && \
	  DATABASE_URL="$${BENCH_DATABASE_URL}" $(PY) bench/junk.py --seconds 30 --people-rate 10 --junk-rate 300 && \
	  DATABASE_URL="$${BENCH_DATABASE_URL}" $(PY) bench/registration_cpu.py --count 300 && \
	  DATABASE_URL="$${BENCH_DATABASE_URL}" $(PY) bench/enumeration.py --samples 150; \
	else echo "Set BENCH_DATABASE_URL=postgres://.../fairslot_bench and REDIS_URL=redis://... for the registration benchmarks"; fi
	@if [ -n "$$BENCH_DRAW_DATABASE_URL" ]; then \
	  DATABASE_URL="$${BENCH_DRAW_DATABASE_URL}" $(PY) bench/draw_service.py --public --lapses 10000; \
	else echo "Set BENCH_DRAW_DATABASE_URL=postgres://.../fairslot_bench_draw for bench/draw_service.py"; fi

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: $(STAMP)
	DEBUG=1 $(PY) manage.py makemessages -l fr -l en -l ar -l fa_AF -l ps -l uk -l ru -l ti --ignore=.venv --ignore=var --ignore=tests --ignore=bench --no-obsolete
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/celery var/celerybeat-schedule* .pytest_cache
