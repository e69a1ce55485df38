# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and this file.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU wheel of torch pinned for laptops and CI; GPU users: see README "GPU".
CONSTRAINTS ?= constraints-cpu.txt
STAMP   := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The main job on the embedded default: 16 loops from each bundled GANSynth model (WAVs + spectrogram sheet), round
# trips of a bundled real recording (with plots), and digits from the bundled dcgan-mnist generator.
demo: $(STAMP)
	mkdir -p out
	$(BIN)/loopgan sample gansynth-mel-gl -n 16 -o out/loops
	$(BIN)/loopgan sample gansynth-mel-if -n 16 -o out/loops-if
	$(BIN)/specrep-cli roundtrip example:guitar_chord1 --chain mag-if -o out/roundtrip.wav --plot out/roundtrip.png
	$(BIN)/specrep-cli roundtrip example:guitar_chord1 --chain mag-gl -o out/roundtrip-gl.wav --plot out/roundtrip-gl.png
	$(BIN)/loopgan sample dcgan-mnist -n 64 -o out/dcgan-mnist

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_specrep.py

clean:
	rm -rf $(VENV) out .pytest_cache
