#!/usr/bin/env bash
# Create (or reuse) the mmmtcp virtual environment and link it as ./.venv.
#
# The environment lives outside the checkout, in a cache directory keyed by
# the requirement files, so a fresh clone reuses it in seconds:
#   ${MMMTCP_CACHE_DIR:-$HOME/.cache/mmmtcp}/venv-<key>
# mmcv 2.1.0 is built from source with ops against the pinned torch; the
# built wheel is kept in a directory named after the torch and Python
# versions, so it is never reused against another torch.
#
# Usage: bash tools/setup_env.sh         (prints the venv path on success)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${MMMTCP_CACHE_DIR:-$HOME/.cache/mmmtcp}"
PYTHON="${MMMTCP_PYTHON:-python3}"

log() { echo "[setup_env] $*" >&2; }

cd "$ROOT"
KEY="$(cat requirements/*.txt tools/setup_env.sh | sha256sum | cut -c1-16)"
PYVER="$("$PYTHON" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
VENV="$CACHE_DIR/venv-$PYVER-$KEY"
mkdir -p "$CACHE_DIR"

# The machine-wide pip configuration points at local wheels and caps torch;
# install from the package index instead so the result is reproducible.
export PIP_CONFIG_FILE=/dev/null
export PIP_FIND_LINKS=
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -f "$VENV/.mmmtcp-complete" ]; then
    # Serialize concurrent setups of the same environment.
    exec 9>"$VENV.lock"
    flock 9
fi

if [ ! -f "$VENV/.mmmtcp-complete" ]; then
    log "creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    PIP="$VENV/bin/python -m pip"
    $PIP install --upgrade "pip<25" >&2

    log "installing torch/torchvision ($(grep -v '^#' requirements/torch.txt | xargs))"
    $PIP install -r requirements/torch.txt >&2
    $PIP install -r requirements/build.txt >&2

    TORCH_VER="$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')"
    MMCV_SPEC="$(grep -v '^#' requirements/mmcv.txt | xargs)"
    WHEEL_DIR="$CACHE_DIR/wheels/mmcv-torch$TORCH_VER-$PYVER"
    mkdir -p "$WHEEL_DIR"
    if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
        log "building $MMCV_SPEC with ops against torch $TORCH_VER (about 15 minutes on 2 cores)"
        TMP_WHEEL_DIR="$(mktemp -d "$WHEEL_DIR.tmp.XXXX")"
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            $PIP wheel --no-deps --no-build-isolation --no-cache-dir \
            -w "$TMP_WHEEL_DIR" "$MMCV_SPEC" >&2
        mv "$TMP_WHEEL_DIR"/mmcv-*.whl "$WHEEL_DIR"/
        rm -rf "$TMP_WHEEL_DIR"
    else
        log "reusing cached mmcv wheel from $WHEEL_DIR"
    fi
    $PIP install --no-deps "$WHEEL_DIR"/mmcv-*.whl >&2
    # mmcv's own runtime dependencies (installed above with --no-deps).
    $PIP install addict packaging Pillow pyyaml yapf >&2

    log "installing runtime and test requirements"
    $PIP install -r requirements/runtime.txt -r requirements/tests.txt >&2
    "$VENV/bin/python" -c 'import mmcv.ops, mmseg.models, mmpretrain.models' >&2
    touch "$VENV/.mmmtcp-complete"
    log "environment ready"
else
    log "reusing $VENV"
fi

# Point the environment at this checkout.
"$VENV/bin/python" -m pip install --no-deps --no-build-isolation -q -e "$ROOT" >&2
ln -sfn "$VENV" "$ROOT/.venv"
echo "$VENV"
