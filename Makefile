# Two entry points (see README): `make lab` opens the course, `make test` runs every test.
# Both create (or reuse) the local virtual environment in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.glmmteach-installed

.PHONY: lab test venv lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# JupyterLab refuses to run as root unless told; containers and CI machines often are root
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) lessons/

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg tests lessons

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache

# Instructor tools (see README): the lessons as live Voilà pages (widgets, no code), e.g.
# `make demos LESSONS="02 06"`, and a static HTML version of the course in build/html.
.PHONY: demos html

demos: $(STAMP)
	$(BIN)/python tools/serve_demos.py $(LESSONS)

html: $(STAMP)
	$(BIN)/python tools/build_html.py --clean
