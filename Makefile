# Altair developer entry points. Every target installs what it needs first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.altair-installed
INPUTS := scripts/install.sh setup.py $(wildcard requirements/*.txt)
# the core's tests and every plugin's (projects/*/tests)
TESTS  := tests projects

.PHONY: install demo test test-fast bench bench-own-data clean-data

install: $(STAMP)

# The script itself is idempotent; make only skips it when nothing changed.
$(STAMP): $(INPUTS)
	bash scripts/install.sh

demo: $(STAMP)
	$(PY) -m altair demo

test: $(STAMP)
	$(PY) -m pytest -q $(TESTS)

# Skip the slow end-to-end checks (marked `slow`).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(TESTS)

# The benchmarks of speed and memory (about 35 minutes); each prints JSON lines.
bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/sliding_window.py
	$(PY) benchmarks/tta.py
	$(PY) benchmarks/ddp_scaling.py
	$(PY) benchmarks/augment_presets.py
	$(PY) benchmarks/raster_loader.py
	$(PY) benchmarks/predict_scale.py

# Own data end to end (about an hour on 2 cores): altair init + altair train on the real
# Landsat and nuclei data against classical baselines, and Blue Marble from its source rasters
# against the tiled demo.
bench-own-data: $(STAMP)
	$(PY) benchmarks/own_data.py --model pspnet unet --iters 600
	$(PY) benchmarks/bluemarble_scene.py

clean-data:
	rm -rf data/bluemarble
