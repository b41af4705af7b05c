# Gatehouse — the two commands a new user needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/gatehouse
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# The race detector needs cgo (a C compiler); use it whenever this machine can.
RACE    ?= $(shell CGO_ENABLED=1 $(GO) test -race -run XXX ./infrastructure/server >/dev/null 2>&1 && echo -race)

.PHONY: all build run test test-short fuzz generate check-generate fmt vet lint bench soak clean screenshots

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/example-api ./cmd/example-api
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/example-mcp ./cmd/example-mcp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/clientjwt ./cmd/clientjwt

# Builds, migrates an embedded SQLite file (./data/gatehouse.db) and serves
# http://localhost:8080. Keys and the secret are generated on first start.
run: build
	./$(BIN) serve

# The whole suite. Repository and end-to-end tests also run on PostgreSQL and MariaDB
# when reachable (GATEHOUSE_TEST_POSTGRES_URL, GATEHOUSE_TEST_MYSQL_URL); set
# GATEHOUSE_TEST_REQUIRE_DBS=1 to make a missing database a failure (CI does).
# -timeout guards against a hung test: the e2e package, the longest, takes 3 to 10
# minutes on two cores, depending on the machine and what else it runs.
# The longest packages are listed first: go test starts packages in the order given
# (two at a time on two cores), and e2e waits on browsers, servers and sleeps, so the
# others fill the cores beside it instead of running before it while it waits its turn.
TEST_FIRST = ./e2e/ ./usecase/
test:
	$(GO) vet ./...
	$(GO) test $(RACE) -count=1 -timeout 15m $(TEST_FIRST) ./...

test-short:
	$(GO) test -count=1 -short ./...

# Native Go fuzzing: every Fuzz target in the module, one after another, FUZZTIME
# each (go test -fuzz takes one target per run). A failing input is written to the
# package's testdata/fuzz/<Target>/, and `make test` replays those and the seeds.
# FUZZTIME is a duration (30s) or a count (20000x). On go1.26 a duration can end in a
# spurious "context deadline exceeded" on a loaded machine (go.dev/issue/75804): no
# input is written then, and a rerun passes. CI uses a count, which has no deadline.
FUZZTIME ?= 30s
fuzz:
	@set -e; for file in $$(find . -name '*_test.go' -not -path './.git/*' | sort | xargs grep -l '^func Fuzz'); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$target in $$(dirname $$file), $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$(dirname $$file); \
		done; \
	done

generate:
	$(GO) tool wire ./cmd/gatehouse

# Fails when wire_gen.go is stale.
check-generate: generate
	git diff --exit-code -- cmd/gatehouse/wire_gen.go

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Go micro-benchmarks, then the load run (bench/, cmd/loadgen): the real server on a
# fresh SQLite and (when reachable) PostgreSQL database, every endpoint next to a bare
# Echo baseline, loopback only; each database again pre-filled with 1,000,000 users,
# 1,000,000 live refresh tokens and 100,000 clients (bulk-loaded; -prefill in
# BENCH_FLAGS sets the sizes or turns it off); then client_credentials with request logging at its
# default level (info), measured with wrk (Debian package wrk; skipped with a message
# when it is not installed). Prints the table and rewrites the generated part of
# BENCHMARKS.md and docs/bench.svg. About a quarter of an hour on two cores; not part
# of `make test`.
# Override BENCH_DURATION (per scenario), BENCH_CONCURRENCY, or add BENCH_FLAGS
# (e.g. BENCH_FLAGS='-postgres off -pprof client_credentials'; `bin/loadgen run -h`).
BENCH_DURATION    ?= 4s
BENCH_CONCURRENCY ?= 64
BENCH_FLAGS       ?=
bench:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse
	$(GO) build -o bin/loadgen ./cmd/loadgen
	@command -v wrk >/dev/null 2>&1 || echo "make bench: wrk is not installed (apt-get install wrk): the run with request logging at info is SKIPPED"
	$(GO) test -run XXX -bench . -benchmem -benchtime 100ms ./... > bin/microbench.txt 2>&1; \
		status=$$?; cat bin/microbench.txt; exit $$status
	./bin/loadgen run -server $(BIN) -duration $(BENCH_DURATION) -concurrency $(BENCH_CONCURRENCY) \
		-micro bin/microbench.txt $(BENCH_FLAGS)

# Soak: the real server on a fresh SQLite and PostgreSQL database, SOAK_DURATION each
# at SOAK_CONCURRENCY connections, with a mix of every grant and endpoint (client
# credentials, password, refresh, the code flow, introspection, revocation, userinfo,
# JWKS, the device flow). Prints per-operation counts and server RSS; fails on any
# 5xx, unexpected 4xx or transport error. SOAK_FLAGS e.g. '-databases sqlite'
# (`bin/loadgen soak -h`).
SOAK_DURATION    ?= 60s
SOAK_CONCURRENCY ?= 64
SOAK_FLAGS       ?=
soak:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse
	$(GO) build -o bin/loadgen ./cmd/loadgen
	./bin/loadgen soak -server $(BIN) -duration $(SOAK_DURATION) -concurrency $(SOAK_CONCURRENCY) $(SOAK_FLAGS)

clean:
	rm -rf bin

# PNG screenshots of the pages in docs/screenshots/, taken by the browser test in
# headless Chromium (GATEHOUSE_TEST_CHROMIUM, or chromium on the PATH); the language
# switcher's 日本語 needs a CJK font (Debian: fonts-noto-cjk).
screenshots:
	GATEHOUSE_TEST_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots GATEHOUSE_TEST_REQUIRE_BROWSER=1 \
		$(GO) test -count=1 -run '^TestBrowser|^TestSecurity_S51_Passkeys' ./e2e/
