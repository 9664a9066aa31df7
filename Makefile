# bakeplan — one entry point for humans and CI.
.PHONY: install demo test test-secure faults faults-cluster fuzz check static lint typecheck imports unit contract stack-up stack-down bench-peers bench-flames bench-memory bench-growth bench-retention k8s-tools

# `uv` from PATH, else the one pip installed for python3 (`make install` installs it if missing)
UV ?= $(shell command -v uv >/dev/null 2>&1 && echo uv || echo python3 -m uv)

install:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.8"
	$(UV) sync --frozen

## The main job: local Kafka + Postgres, one seeded bakery, its daily plan printed.
demo: install
	$(UV) run bakeplan demo

## The house checks (ruff, mypy --strict, import-linter), the contract documents, then every test tier
## (unit, integration, e2e, faults, fuzz with its `ci` profile) on the real local Kafka and Postgres (started here if not running), then the e2e tier again on the
## local secure broker (SASL_SSL, a user per principal, ACLs; docs/security.md). CI runs this.
SECURE_ENV = $${BAKEPLAN_STATE_DIR:-.bakeplan-local}/kafka-secure/client.env
test: install static contract k8s-tools
	$(UV) run bakeplan stack up
	BAKEPLAN_KAFKA_BOOTSTRAP=$${BAKEPLAN_KAFKA_BOOTSTRAP:-127.0.0.1:9092} \
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run pytest
	$(UV) run bakeplan stack up --secure >/dev/null
	set -a && . "$(SECURE_ENV)" && set +a && \
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run pytest tests/e2e --deselect tests/e2e/test_prometheus.py  # metrics do not depend on the broker's security: once is enough

## Every tier except the fault suite (which runs on a plaintext broker of its own) against the local
## secure broker only, started here if not running.
test-secure: install static
	$(UV) run bakeplan stack up --secure
	set -a && . "$(SECURE_ENV)" && set +a && \
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run pytest -m "not faults"

## Only the fault suite (crashes, restarts, duplicates, poison messages); `make test` includes it.
faults: install
	$(UV) run bakeplan stack up
	BAKEPLAN_KAFKA_BOOTSTRAP=$${BAKEPLAN_KAFKA_BOOTSTRAP:-127.0.0.1:9092} \
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run pytest -m faults

## The fuzz tier's deep profile: twenty times the examples of `make test`'s (which runs the tier's
## `ci` profile with every other test), random each run (docs/resilience.md, "Fuzz tier").
fuzz: install
	$(UV) run bakeplan stack up
	BAKEPLAN_FUZZ_PROFILE=deep BAKEPLAN_KAFKA_BOOTSTRAP=$${BAKEPLAN_KAFKA_BOOTSTRAP:-127.0.0.1:9092} \
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run pytest -m fuzz

## The fault tests on a local 3-broker KRaft cluster of their own (replication factor 3,
## min.insync.replicas=2): the busiest partition leader SIGKILLed mid-run, then the whole cluster away
## for longer than a step deadline. Minutes long, so not in `make test` (docs/resilience.md).
faults-cluster: install
	$(UV) run bakeplan stack up
	BAKEPLAN_KAFKA_BOOTSTRAP=$${BAKEPLAN_KAFKA_BOOTSTRAP:-127.0.0.1:9092} \
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run pytest --cluster -m cluster

check: install static unit

## ruff, mypy --strict and import-linter: what `check` and `test` both run first.
static: lint typecheck imports

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy contracts infra workers orchestrator lab bakeplan tests bench/system bench/retention.py

imports:
	$(UV) run lint-imports

unit:
	$(UV) run pytest -m unit -q

## The Kafka contract (docs/contract.md): docs/asyncapi.json through the AsyncAPI parser, every golden
## message against its JSON Schema. `uv run bakeplan contract write` regenerates them.
contract: tools/asyncapi/node_modules/.package-lock.json
	node tools/asyncapi/validate.mjs docs/asyncapi.json --schemas docs/schemas --golden tests/golden

# npm writes node_modules/.package-lock.json on install: reinstall only when the lock file changed
tools/asyncapi/node_modules/.package-lock.json: tools/asyncapi/package-lock.json tools/asyncapi/package.json
	npm ci --prefix tools/asyncapi --silent

## bakeplan and a peer engine (DBOS Transact, bench/peers) side by side, with their ratios; a few
## minutes on a quiet machine. Figures: docs/benchmarks.md, "Peers".
bench-peers: install
	$(UV) run bakeplan stack up
	$(UV) sync --frozen --group peers --inexact
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run python -m bench.system --quick --only idle,throughput --peers

## py-spy flame graphs of every process under the throughput loop (docs/benchmarks.md, "Where the time goes")
bench-flames: install
	$(UV) run bakeplan stack up
	$(UV) sync --frozen --group profile --inexact
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run python -m bench.system --quick --only throughput --flames bench/results/flames --out bench/results/flames.json

## What each process holds at its peak: 100 large tenants at once, every process under memray
## (docs/benchmarks.md, "The orchestrator's memory with large tenants"); ~8 min on the 2-core machine.
bench-memory: install
	$(UV) run bakeplan stack up
	$(UV) sync --frozen --group profile --inexact
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run python -m bench.system --only large --memray bench/results/memray --out bench/results/memory.json

## Cost per saga as work grows: tenants of three sizes, then bursts of 100, 1,000 and 5,000 tenants
## (docs/benchmarks.md, "Cost as work grows"); 26 min on the 2-core machine.
bench-growth: install
	$(UV) run bakeplan stack up
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} \
	$(UV) run python -m bench.system --only growth --out bench/results/growth.json

## The retention job on a million rows while a hot-path writer runs (docs/retention.md); `make test` runs
## only its short form (tests/integration/test_retention.py). Needs Postgres only (started here if not running).
bench-retention: install
	[ -n "$${DATABASE_URL:-}" ] || deploy/local/postgres.sh start
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/local/postgres.sh url)} $(UV) run python -m bench.retention

stack-up: install
	$(UV) run bakeplan stack up

stack-down:
	$(UV) run bakeplan stack down

## kubeconform and kustomize for tests/integration/test_deploy_manifests.py, from the Go module proxy
## into .tools/bin (once: about 65 s measured on 2 busy cores; then a no-op). docs/deploy.md
k8s-tools:
	tools/k8s/install.sh
