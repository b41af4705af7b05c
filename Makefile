# Gatehouse — the two commands a new user needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/gatehouse
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# The race detector needs cgo (a C compiler); use it whenever this machine can.
RACE    ?= $(shell CGO_ENABLED=1 $(GO) test -race -run XXX ./infrastructure/server >/dev/null 2>&1 && echo -race)

.PHONY: all build run test test-short generate check-generate fmt vet lint bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/example-api ./cmd/example-api

# Builds, migrates an embedded SQLite file (./data/gatehouse.db) and serves
# http://localhost:8080. Keys and the secret are generated on first start.
run: build
	./$(BIN) serve

# The whole suite. Repository and end-to-end tests also run on PostgreSQL and MariaDB
# when reachable (GATEHOUSE_TEST_POSTGRES_URL, GATEHOUSE_TEST_MYSQL_URL); set
# GATEHOUSE_TEST_REQUIRE_DBS=1 to make a missing database a failure (CI does).
test:
	$(GO) vet ./...
	$(GO) test $(RACE) -count=1 -timeout 12m ./...

test-short:
	$(GO) test -count=1 -short ./...

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

bench:
	$(GO) test -run XXX -bench . -benchmem ./...

clean:
	rm -rf bin
