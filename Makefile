# concord's developer commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
BUF   := go tool -modfile=proto/tools.mod buf

# Packages with concurrency worth the race detector's time; the rest run
# without it (the detector slows pure property tests several times over).
# internal/clustertest runs without it: a dozen Pebble-backed nodes under
# the detector take too long on two cores (run it by hand with -race).
RACE_PKGS := ./engine/storage/... ./engine/replica/... ./engine/node/... ./engine/meta/... \
             ./engine/aae/... ./engine/membership/... ./engine/coord/... ./engine/peer/ \
             ./internal/server/... ./resolvers/ ./resolvers/laws/

.PHONY: test deps sdk-deps sdk-test check fmt-check vet proto proto-check proto-baseline unit race build bench bench-peers bench-tail-processes concord-base soak

## test: every check and every test, as CI runs them
test: deps check unit race sdk-test

## deps: the toolchains the tests build resolvers with (Debian packages, installed
## when missing, see .ci/install-tools) and the AssemblyScript compiler (npm,
## pinned by package-lock.json)
deps: sdk-deps
	@bash .ci/install-tools
	@[ -d resolvers/guest/assemblyscript/node_modules/assemblyscript ] || (cd resolvers/guest/assemblyscript && npm ci --no-audit --no-fund)

## sdk-deps: the TypeScript SDK's npm packages (pinned by its package-lock.json)
## and the Python SDK's virtualenv with its runtime, test and generator packages
sdk-deps:
	@[ sdk/ts/node_modules/.package-lock.json -nt sdk/ts/package-lock.json ] || npm --prefix sdk/ts ci --no-audit --no-fund
	@[ sdk/python/.venv/.installed -nt sdk/python/pyproject.toml ] || (python3 -m venv sdk/python/.venv && \
		sdk/python/.venv/bin/pip install -q --disable-pip-version-check -e 'sdk/python[test,lint,gen]' && \
		touch sdk/python/.venv/.installed)

## sdk-test: the TypeScript and Python SDKs' own tests (each against a real
## `concord dev` it starts), then the conformance suite for Go, TypeScript
## and Python against one 3-node `concord dev` (sdk/conformance/run)
sdk-test: sdk-deps
	npm --prefix sdk/ts test
	cd sdk/python && .venv/bin/pytest -q -p no:cacheprovider && .venv/bin/mypy
	sdk/conformance/run

## check: formatting, vet, protos lint/format/breaking, generated code up to date
check: sdk-deps fmt-check vet proto-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...
	go vet -C internal/benchpeers ./...

GENERATED := proto/gen engine/peer/internal/peerpb sdk/ts/src/gen sdk/python/src/concord/_gen

## proto: format the protos and regenerate the code of every language
proto: sdk-deps
	$(BUF) format -w
	$(BUF) generate
	$(BUF) generate --template engine/peer/buf.gen.yaml
	$(BUF) generate --template sdk/ts/buf.gen.yaml
	$(BUF) generate --template sdk/python/buf.gen.yaml

proto-check:
	$(BUF) format -d --exit-code
	$(BUF) lint
	$(BUF) breaking proto --against proto/baseline.binpb
	$(BUF) breaking engine/peer/proto --against engine/peer/proto/baseline.binpb
	$(BUF) generate
	$(BUF) generate --template engine/peer/buf.gen.yaml
	$(BUF) generate --template sdk/ts/buf.gen.yaml
	$(BUF) generate --template sdk/python/buf.gen.yaml
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is stale: run 'make proto' and commit $(GENERATED)"; git status --short -- $(GENERATED); exit 1; fi

## proto-baseline: accept the current API and peer protocol as the baselines
## for buf breaking (one per module: buf compares a workspace module by module)
proto-baseline:
	$(BUF) build proto -o proto/baseline.binpb
	$(BUF) build engine/peer/proto -o engine/peer/proto/baseline.binpb

# unit includes internal/faultlab: TestFaultLab, real processes in network
# namespaces through every fault kind once (a few minutes, as root).
unit:
	go test -count=1 $$(comm -23 <(go list ./... | sort) <(go list $(RACE_PKGS) | sort))
	go test -C internal/benchpeers -count=1 ./...

race:
	go test -count=1 -race $(RACE_PKGS)

build:
	go build -o bin/concord ./cmd/concord

## bench: Go benchmarks of storage, versioning and the single-node API
bench:
	go test -run='^$$' -bench=. -benchtime=1s ./engine/storage/... ./engine/dvv/ ./engine/node/ ./internal/server/
	go test -run='^$$' -bench=. -benchtime=2000x ./internal/clustertest/
	go test -run='^$$' -bench=. -benchtime=500x ./resolvers/ ./resolvers/builtin/ ./resolvers/guest/...

## bench-peers: concord next to raw Pebble, a bare Connect handler, Redis and a
## 3-node etcd under the same YCSB load in one run (docs/benchmarks.md, "Peers in
## the same run"): about 12 minutes; as root, it installs redis-server and
## etcd-server when missing. Medians go to the terminal, raw results to
## bin/bench-peers.json. ARGS passes flags: ARGS=--quick for a smoke run,
## ARGS='--peers concord,etcd --duration 30s'. BASE=<git revision> adds the
## peer baseline: the same 3-node concord built from that revision
## (bin/concord-base), with concord ÷ baseline in the table.
bench-peers: build $(if $(BASE),concord-base)
	go build -C internal/benchpeers -o ../../bin/benchpeers .
	bin/benchpeers run --concord bin/concord$(if $(BASE), --baseline bin/concord-base) --json bin/bench-peers.json $(ARGS)

## bench-tail-processes: the foreground's p99 before, during and after a
## handoff, hint delivery and anti-entropy repair, on `concord serve`
## processes (docs/benchmarks.md, "Tail latency under background work"):
## about three minutes a round; ROUNDS=3 for more, SCENARIOS="handoff" for one
## (SCENARIOS="slow", as root: a node held to 3% of a core, no background work;
## SCENARIOS="stall": a node stopped for 200 ms of every second)
bench-tail-processes: build
	ROUNDS=$(or $(ROUNDS),1) SCENARIOS="$(or $(SCENARIOS),handoff hints repair)" internal/benchpeers/tail-processes.sh bin/concord

## concord-base: bin/concord-base from git revision BASE, built in a temporary
## directory that git archive fills (the work tree and the index are left
## alone); its `concord version` names the revision
concord-base:
	@[ -n "$(BASE)" ] || { echo 'concord-base: set BASE to a git revision, e.g. make bench-peers BASE=HEAD~1'; exit 1; }
	@set -eo pipefail; rev=$$(git rev-parse --short --verify '$(BASE)^{commit}'); \
	src=$$(mktemp -d); trap 'rm -rf "$$src"' EXIT; \
	echo "building bin/concord-base from $$rev"; \
	git archive "$$rev" | tar -x -C "$$src"; \
	go build -C "$$src" -ldflags "-X github.com/concord-kv/concord/internal/cli.version=$$rev" -o "$(CURDIR)/bin/concord-base" ./cmd/concord

## soak: the fault lab's long run (as root; it installs iproute2 and nftables when
## missing): SOAK_CYCLES fault cycles (default 20)
## against five processes, then the summary table (acknowledged, lost,
## availability and settling time per fault kind, max siblings vs writers).
## FAULTLAB_SEED repeats a schedule; FAULTLAB_LOGS keeps the logs and history.
SOAK_CYCLES ?= 20
soak:
	FAULTLAB_CYCLES=$(SOAK_CYCLES) go test -count=1 -v -timeout 90m -run '^TestFaultLab$$' ./internal/faultlab/
