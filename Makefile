# The commands people and CI run. `make` alone lists them.
# CI (.ci/run) runs `make fmt-check lint purity test`: exactly what `make check` runs.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.DEFAULT_GOAL := help
.PHONY: help deps run test check fmt fmt-check lint purity bench loadtest loadtest-read loadtest-admin migrate doc

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install missing system packages (C compiler, libpq)
	@scripts/install-deps.sh

run: deps ## Run the server on the embedded default (SQLite under data/)
	$(CARGO) run --release -p authz-server

test: deps ## Run every test, on SQLite and on a throwaway PostgreSQL (or TEST_DATABASE_URL)
	scripts/with-postgres.sh $(CARGO) test --workspace --locked

check: fmt-check lint purity test ## What CI runs: formatting, lints, domain purity, all tests

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

bench: deps ## Criterion benchmarks of the domain (parse + validate a registration)
	$(CARGO) bench -p authz-domain --bench registration

loadtest: deps ## wrk load test of POST /register over HTTP on SQLite (needs wrk)
	scripts/loadtest.sh

loadtest-read: deps ## GET /register/{id} at 10k and 1M clients beside GET /health, SQLite then PostgreSQL (needs wrk)
	scripts/loadtest-read.sh sqlite
	scripts/loadtest-read.sh postgres

loadtest-admin: deps ## latency of GET /admin/clients pages and searches at 1M clients, SQLite then PostgreSQL (needs wrk)
	scripts/loadtest-admin.sh sqlite
	scripts/loadtest-admin.sh postgres

migrate: deps ## Apply pending migrations to the configured database
	$(CARGO) run --release -p authz-server -- migrate

doc: ## Build the API docs of the crates
	$(CARGO) doc --workspace --no-deps
