# The commands people and CI run. `make` alone lists them.
# CI (.ci/run) runs `make fmt-check lint purity deny test`: exactly what `make check` runs.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.DEFAULT_GOAL := help
.PHONY: help deps run test check fmt fmt-check lint purity deny bench loadtest loadtest-read loadtest-tokens loadtest-admin loadtest-slow fuzz-api migrate doc e2e outage-test exit-crash-test loadtest-limits

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install missing system packages (C compiler, libpq)
	@scripts/install-deps.sh

run: deps ## Run the server on the embedded default (SQLite under data/)
	$(CARGO) run --release -p authz-server

test: deps ## Run every test: on SQLite and a throwaway PostgreSQL (or TEST_DATABASE_URL), then end to end
	scripts/with-postgres.sh $(CARGO) test --workspace --locked
	scripts/with-postgres.sh sh -c 'scripts/outage-test.sh && scripts/exit-crash-test.sh 25'
	scripts/e2e.sh

# Needs npm, python3 and chromium (scripts/e2e.sh installs what is missing; Node 22 comes through
# npx). `make test` runs it after the Rust tests. E2E_ISSUER=… runs it against a server that is
# already running (see the header of scripts/e2e.sh).
e2e: deps ## End-to-end: MCP TypeScript and Python SDKs, the MCP conformance suite and a headless browser against a real server
	scripts/e2e.sh

check: fmt-check lint purity deny test ## What CI runs: formatting, lints, domain purity, dependency audit, all tests

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check: ## Fail on unformatted code
	$(CARGO) fmt --all --check

lint: deps ## Clippy on every target, warnings denied
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

purity: ## The domain crate depends on neither diesel nor actix-web
	@deps=$$($(CARGO) tree -p authz-domain -e normal --prefix none --format '{p}') && \
	  if echo "$$deps" | grep -E '^(diesel|actix-web|actix-http|r2d2|tokio) ' ; then \
	    echo "authz-domain must not depend on the crates above"; exit 1; \
	  else echo "authz-domain is pure: no diesel, no actix-web, no tokio"; fi

# cargo-deny, pinned. The RustSec advisory database is vendored in .ci/advisory-db.tar.gz
# (CI reaches crates.io, not GitHub): this unpacks it where deny.toml's db-path points, dates it
# by its snapshot's commit (cargo-deny reads .git/FETCH_HEAD's time for maximum-db-staleness)
# and checks offline. deny.toml says how to refresh the snapshot.
CARGO_DENY_VERSION := 0.20.2
ADVISORY_DB := target/advisory-db/advisory-db-3157b0e258782691

deny: ## Advisories and licences of every dependency (cargo-deny)
	@cargo-deny --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)' || \
	  $(CARGO) install --locked cargo-deny@$(CARGO_DENY_VERSION)
	@rm -rf $(ADVISORY_DB) && mkdir -p $(ADVISORY_DB)/.git && \
	  tar -xzf .ci/advisory-db.tar.gz -C $(ADVISORY_DB) && \
	  touch -d "$$(sed -n 's/^date=//p' $(ADVISORY_DB)/SNAPSHOT)" $(ADVISORY_DB)/.git/FETCH_HEAD && \
	  echo "advisory database: $$(tr '\n' ' ' < $(ADVISORY_DB)/SNAPSHOT)" && \
	  if [ -n "$$(find $(ADVISORY_DB)/.git/FETCH_HEAD -mtime +90)" ]; then \
	    echo "warning: the vendored advisory database is older than 90 days; refresh it (deny.toml says how)"; fi
	$(CARGO) fetch --locked
	$(CARGO) deny --offline --locked check

bench: deps ## Criterion benchmarks of the domain (parse + validate a registration; sign and verify an access token)
	$(CARGO) bench -p authz-domain --bench registration
	$(CARGO) bench -p authz-domain --bench access_token

loadtest: deps ## wrk load test of POST /register over HTTP on SQLite (needs wrk)
	scripts/loadtest.sh

loadtest-read: deps ## GET /register/{id} at 10k and 1M clients beside GET /health, SQLite then PostgreSQL (needs wrk)
	scripts/loadtest-read.sh sqlite
	scripts/loadtest-read.sh postgres

loadtest-tokens: deps ## refresh (chained rotation), code exchange, introspection, whole flow beside GET /health, SQLite then PostgreSQL (needs wrk)
	scripts/loadtest-tokens.sh sqlite
	scripts/loadtest-tokens.sh postgres

outage-test: deps ## Stop and start a real PostgreSQL under load: every request answered in time, no acknowledged client lost
	$(CARGO) build -q -p authz-server
	scripts/with-postgres.sh scripts/outage-test.sh

exit-crash-test: deps ## 200 runs of each short-lived command on PostgreSQL with SCRAM: no crash at exit
	$(CARGO) build -q -p authz-server
	scripts/with-postgres.sh scripts/exit-crash-test.sh 200

loadtest-admin: deps ## latency of GET /admin/clients pages and searches at 1M clients, SQLite then PostgreSQL (needs wrk)
	scripts/loadtest-admin.sh sqlite
	scripts/loadtest-admin.sh postgres

loadtest-slow: deps ## 300 slow clients against a server with ulimit -n 256, before/after the body deadline and connection cap
	scripts/loadtest-slow.sh

# Not part of `make test`: it installs schemathesis from PyPI once and runs for FUZZ_SECONDS (120).
fuzz-api: deps ## Schemathesis against /openapi.json for a bounded time; fails on any 5xx or schema violation
	scripts/fuzz-api.sh

loadtest-limits: deps ## cost of the rate limits on POST /register, and other clients' p99 during floods, SQLite (needs wrk)
	scripts/loadtest-limits.sh

migrate: deps ## Apply pending migrations to the configured database
	$(CARGO) run --release -p authz-server -- migrate

doc: ## Build the API docs of the crates
	$(CARGO) doc --workspace --no-deps
