# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and this file.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU wheel of torch pinned for laptops and CI; GPU users: see README "GPU".
CONSTRAINTS ?= constraints-cpu.txt
STAMP   := $(VENV)/.installed
# setuptools ends every editable install of a package_dir layout (cli/ installs as loopgan_cli) with an informational
# "Editable installation." banner, a UserWarning that pip shows even with --quiet. This filter drops that one message
# and nothing else: deprecations and errors still show (tests/test_packaging.py builds the editable wheel under it).
EDITABLE_NOTE := ignore:Editable installation.:UserWarning

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml $(CONSTRAINTS) examples/wavegan/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="$(EDITABLE_NOTE)" $(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	PYTHONWARNINGS="$(EDITABLE_NOTE)" $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation \
		-e ./examples/wavegan
	touch $(STAMP)

setup: $(STAMP)

# The main job on the embedded default: loops and a 32 s smooth latent walk from each bundled GANSynth model, a specrep
# round trip of a bundled real recording, all in one self-contained HTML report (out/demo/report.html).
demo: $(STAMP)
	$(BIN)/loopgan demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .

# The suite without the tests marked slow (trainings, the demo render, headless-browser and multi-process runs):
# under 2 minutes on a 2-core CPU. `make test` still runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/ruff check .

lint: $(STAMP)
	$(BIN)/ruff check .

# docs/results/performance.md: start-up, Griffin-Lim against librosa (speed, batch scaling, time to quality), training
# throughput and trainer overhead, walk rendering speed. `python benchmarks/performance.py --memmap-gb 26` adds the
# larger-than-memory training run; benchmarks/bench_specrep.py is the older DSP report (docs/results/specrep.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/performance.py --out docs/results/performance.md

clean:
	rm -rf $(VENV) out .pytest_cache
