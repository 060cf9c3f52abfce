# Altair developer entry points. Every target installs what it needs first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.altair-installed
INPUTS := scripts/install.sh setup.py $(wildcard requirements/*.txt)
# the core's tests and every plugin's (projects/*/tests)
TESTS  := tests projects

.PHONY: install demo test test-fast test-all bench bench-speed bench-quality bench-gpu bench-demo bench-zoo bench-augment bench-ssl bench-own-data clean-data

install: $(STAMP)

# The script itself is idempotent; make only skips it when nothing changed.
$(STAMP): $(INPUTS)
	bash scripts/install.sh

demo: $(STAMP)
	$(PY) -m altair demo

# The suite CI runs (without the checks marked `extended`), then the documentation site (a
# broken link or a stale API page fails the build).
test: $(STAMP)
	$(PY) -m pytest -q -m "not extended" $(TESTS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

# Skip every end-to-end check (marked `slow`).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(TESTS)

# Every check, the `extended` ones included (before a release, or after touching what they run).
test-all: $(STAMP)
	$(PY) -m pytest -q $(TESTS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

# Every benchmark (each prints JSON lines with its baseline and ratio, measured in the same
# run): bench-speed, the speed and memory part (about 75 minutes on 2 cores), and
# bench-quality, the model-quality part (several hours), which runs in parts (bench-demo,
# bench-zoo, bench-augment, bench-ssl, bench-own-data), each writing its own results with
# its commit.
bench: bench-speed bench-quality

bench-quality: bench-demo bench-zoo bench-augment bench-ssl bench-own-data

# The augmentation presets' speed and the satellite preset against none (two 300-iteration
# trainings of the demo PSPNet, about 35 minutes on 2 cores). Both parts share one results
# file, so bench-speed leaves it to this target.
bench-augment: $(STAMP)
	$(PY) benchmarks/augment_presets.py

bench-speed: $(STAMP)
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/sliding_window.py --scale
	$(PY) benchmarks/tta.py
	$(PY) benchmarks/ddp_scaling.py
	$(PY) benchmarks/raster_loader.py
	$(PY) benchmarks/predict_scale.py --scale
	$(PY) benchmarks/onnx_runtime.py
	$(PY) benchmarks/recipe_speed.py
	$(PY) benchmarks/volume_predict.py

# One GPU, under 8 minutes (exits 2 without one).
bench-gpu: $(STAMP)
	$(PY) benchmarks/gpu_suite.py

# The demo model's bf16 labels against fp32 (runs `make demo` first when it has not run).
bench-demo: $(STAMP)
	test -f work_dirs/demo/summary.json || $(PY) -m altair demo
	$(PY) benchmarks/precision_agreement.py
	$(PY) benchmarks/bluemarble_baselines.py

# One `altair demo --config C` per short config: the model zoo's rows (the SegFormer's about
# 8 minutes, each ResNet-18 one about 30 on 2 cores in fp32).
bench-zoo: $(STAMP)
	$(PY) benchmarks/model_zoo.py

# MAE against the same ViT from scratch, both sides tuned alike on a split of the training
# tiles, 3 seeds; one fraction of labels per part (the second reuses the first's pretraining).
bench-ssl: $(STAMP)
	$(PY) benchmarks/ssl_transfer.py --tune --methods mae --fractions 0.1 --save-weights work_dirs/ssl_weights
	$(PY) benchmarks/ssl_transfer.py --tune --methods mae --fractions 1.0 --weights mae=work_dirs/ssl_weights/mae.pth
	$(PY) benchmarks/imbalance.py

# Own data end to end: `altair init` (no edits, default budget) + `altair train` on every real
# labelled dataset available offline against classical baselines fitted on the same split
# (the headline rows l7_strata and l7_water get two more seeds, the volumes one more), and
# Blue Marble from its source rasters against the tiled demo.
bench-own-data: $(STAMP)
	$(PY) benchmarks/own_data.py --panel --seeds 0
	$(PY) benchmarks/own_data.py --panel --datasets l7_strata l7_water --seeds 1 2
	$(PY) benchmarks/own_data.py --panel --datasets mni_tissue mni_tissue_2d --seeds 1
	$(PY) benchmarks/bluemarble_scene.py

clean-data:
	rm -rf data/bluemarble
