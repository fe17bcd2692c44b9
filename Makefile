# Anima's tasks. The two a new user needs: `make run` and `make test`.
GO        ?= go
ADDR      ?= 127.0.0.1:7777
FUZZTIME  ?= 60s
BENCHTIME ?= 1s
# Packages whose tests also run under the race detector: everything with
# goroutines or shared state that a data race could hide in.
RACE_PKGS ?= ./protocol/... ./server/... ./behavior/... ./inference/grammar/ \
             ./inference/kernels/ ./inference/engine/ \
             ./inference/kvcache/ ./inference/openai/... ./inference/remote/ \
             ./npc/... ./node/ ./loadtest/
MODEL_DIR ?= build/model
# PROMPT_FORMAT: id-last-recall, names, id-last, id-last-colon, name-first or id-first (npc.PromptFormat); the
# corpus is rendered and the GGUF marked with it.
PROMPT_FORMAT ?= id-last-recall
# CORPUS_FLAGS: more anima corpus flags for the training corpus (docs/CORPUS.md);
# the committed model's are -extra-phrasings -fresh-worlds -place-mentions (-lookup-boost K: docs/CORPUS.md).
# corpus.TestRecipeCorpusUnchanged pins the corpus these defaults make: change
# them (or the generator's output under them) only with a new model.
CORPUS_FLAGS ?= -extra-phrasings -fresh-worlds -place-mentions
# MODEL_OUT, LOSS_SVG: where make model writes; point them elsewhere to
# train a candidate beside the committed model instead of over it.
MODEL_OUT ?= assets/model/anima-npc-q8_0.gguf
LOSS_SVG ?= assets/model/loss.svg
PYTHON    ?= /usr/bin/python3

.PHONY: run test vet race bench fuzz demo load build model deps-demo deps-train eval

build:
	$(GO) build -o bin/anima ./cmd/anima

## run: the server on the embedded default model, on $(ADDR).
run:
	$(GO) run ./cmd/anima serve -addr $(ADDR)

## test: the whole suite: vet, unit and integration tests, the race detector
## where it matters, and the demo's window test under Xvfb.
test: deps-demo vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	xvfb-run -a $(GO) test -count=1 -tags xvfb ./demo/

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags xvfb ./demo/...

## deps-demo: ebiten (the demo) builds with cgo against X11/GL, and its
## window test needs Xvfb. Installs what is missing when run as root;
## otherwise says exactly what to run.
DEMO_DEBS = gcc libc6-dev libgl-dev libx11-dev libxcursor-dev libxi-dev \
            libxinerama-dev libxrandr-dev libxxf86vm-dev xvfb xauth libgl1-mesa-dri
deps-demo:
	@missing=$$(for p in $(DEMO_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	fi

## bench: every benchmark once; see docs/BENCHMARKS.md for the figures.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

## fuzz: each fuzz target for $(FUZZTIME).
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  pkg=$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/func //'); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

## demo: the ebiten village (needs a display; see docs/DEMO.md).
demo: deps-demo
	$(GO) run ./demo/cmd/anima-demo

## load: a one-minute load test against an in-process server.
load:
	$(GO) run ./cmd/anima load -html load-report.html

## model: rebuild the embedded model from scratch, about 100 min on 2 cores (see train/README.md).
model: build deps-train
	mkdir -p $(MODEL_DIR)
	$(PYTHON) train/test_tree.py
	bin/anima corpus -seed 1 -n 56000 -group 8 -split train -prompt-format $(PROMPT_FORMAT) $(CORPUS_FLAGS) -o $(MODEL_DIR)/train.jsonl -q
	bin/anima train tokenizer -corpus $(MODEL_DIR)/train.jsonl -vocab 6144 -o $(MODEL_DIR)/tokenizer.gguf
	bin/anima train tokenize -corpus $(MODEL_DIR)/train.jsonl -tokenizer $(MODEL_DIR)/tokenizer.gguf -o $(MODEL_DIR)/tokens
	OMP_WAIT_POLICY=PASSIVE $(PYTHON) train/train.py --tokens $(MODEL_DIR)/tokens --out $(MODEL_DIR)/weights $$(cat train/recipe.flags)
	bin/anima train export -weights $(MODEL_DIR)/weights -tokenizer $(MODEL_DIR)/tokenizer.gguf -type q8_0 -prompt-format $(PROMPT_FORMAT) -o $(MODEL_OUT)
	$(PYTHON) train/plot_loss.py $(MODEL_DIR)/weights/loss.csv $(LOSS_SVG)

## deps-train: Debian's PyTorch and the OpenMP OpenBLAS it needs to be fast
## (without it matrix products fall back to the slow reference BLAS).
deps-train:
	@$(PYTHON) -c 'import torch' 2>/dev/null && dpkg -s libopenblas0-openmp >/dev/null 2>&1 || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch libopenblas0-openmp) || \
		(echo "make model needs: apt-get install python3-torch libopenblas0-openmp (as root)" >&2; exit 1)

## eval: the embedded model on 400 held-out examples (issue 5), with 20
## samples per language; EVAL_FLAGS=-json for one JSON object.
eval:
	$(GO) run ./cmd/anima eval -n 400 -samples 20 $(EVAL_FLAGS)
