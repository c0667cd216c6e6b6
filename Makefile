# make demo: set up .venv and run the main job.   make test: set up .venv and run the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.archspec-installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-fast bench graphviz clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the pinned CPU build of torch (and its torchvision) first, so that nothing else pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0 torchvision==0.28.0
	$(BIN)/python -m pip install -q -e '.[all]'
	@touch $(STAMP)

graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing Graphviz (dot) for diagrams"; \
	  (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) 2>/dev/null \
	  || echo "warning: could not install Graphviz; 'archspec plot' can still write .dot files"; }

demo: $(STAMP) graphviz
	@bash scripts/demo.sh

test: $(STAMP) graphviz
	$(BIN)/python -m pytest -n 2 -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/summary_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs
