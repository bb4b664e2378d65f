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

# The targets call the `glmmteach` command (glmmteach/course/cli.py), which also works without
# make (Windows: .venv\Scripts\glmmteach lab). `glmmteach lab` adds --allow-root only when
# run as root; `glmmteach test` runs ruff, then pytest with nbval on tests/ and lessons/.
lab: $(STAMP)
	$(BIN)/glmmteach lab

test: $(STAMP)
	$(BIN)/glmmteach test

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
	$(BIN)/glmmteach demos $(LESSONS)

html: $(STAMP)
	$(BIN)/glmmteach html --clean

# Grade a class: `make grade SUBMISSIONS=hand-ins OUT=grades` (not a sandbox: see README)
.PHONY: grade check-setup student-copies
OUT ?= grades
grade: $(STAMP)
	$(if $(SUBMISSIONS),,$(error set SUBMISSIONS to the folder of hand-ins, e.g. make grade SUBMISSIONS=hand-ins))
	$(BIN)/glmmteach grade $(SUBMISSIONS) --out $(OUT)

check-setup: $(STAMP)
	$(BIN)/glmmteach check-setup

student-copies: $(STAMP)
	$(BIN)/glmmteach student-copies
