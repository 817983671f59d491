# xlc: `make book` builds the whole book on the embedded default; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export XLC_CACHE ?= $(CURDIR)/.cache/xlc
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: book test run venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt 2> >(grep -v "^WARNING: Location" >&2)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "^WARNING: Location" >&2)
	touch $@

test: venv
	$(PY) -m pytest

# the main job on the embedded default: one run folder under results/
run: venv
	$(PY) -m xlc run --model minilm --out results/minilm

# ---- the book: both runs, then `xlc book`; make's timestamps skip whatever is up to date ----
RUNS := results/minilm results/minilm-random
VALUES := $(wildcard xlc/values/*/*.json)
PIPELINE := $(addprefix xlc/,__init__.py data.py models.py extract.py cache.py vectors.py metrics.py analysis.py runner.py cli.py io.py errors.py)
BOOK_INPUTS := $(wildcard notebooks/*.ipynb) $(wildcard xlc/*.py) $(wildcard xlc/reference/*.py xlc/reference/*.csv xlc/reference/*.json) $(wildcard xlc/book_static/*/*) _config.yml

book: _build/html/index.html
	@echo "The book: $(CURDIR)/_build/html/index.html"

# every language present for a concept is run (xlc run's default); the notebooks average concepts
# over the languages they share
results/%/run.json: $(VENV)/.installed $(VALUES) $(PIPELINE)
	$(PY) -m xlc run --model $* --out results/$*

_build/html/index.html: $(addsuffix /run.json,$(RUNS)) $(BOOK_INPUTS)
	$(PY) -m xlc book --runs $(RUNS) --out book
	touch $@

clean:
	rm -rf results _build book .cache
