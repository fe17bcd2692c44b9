# Anima's tasks. The two a new user needs: `make run` and `make test`.
GO        ?= go
ADDR      ?= 127.0.0.1:7777
FUZZTIME  ?= 60s
BENCHTIME ?= 1s
# Packages whose tests also run under the race detector.
RACE_PKGS ?= ./protocol/... ./server/... ./behavior/...

.PHONY: run test vet race bench fuzz demo load build

build:
	$(GO) build -o bin/anima ./cmd/anima

## run: the server on the embedded default model, on $(ADDR).
run:
	$(GO) run ./cmd/anima serve -addr $(ADDR)

## test: the whole suite (vet, unit, integration, race where it matters).
test: vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## bench: every benchmark once; see docs/BENCHMARKS.md for the figures.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

## fuzz: each fuzz target for $(FUZZTIME).
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/func //'); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

demo:
	@echo "the demo game arrives with issue 8"; exit 1

load:
	@echo "the load tool arrives with issue 9"; exit 1
