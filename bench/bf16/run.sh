#!/usr/bin/env bash
# Issue #10's bf16 exploration: builds bench/bf16/matmul.c against Debian's oneDNN and runs it (2 threads).
# Needs libdnnl-dev (apt-get install libdnnl-dev). Prints one JSON line; compare with `ember bench sgemm`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dpkg -s libdnnl-dev >/dev/null 2>&1 || { echo "bf16: apt-get install libdnnl-dev first" >&2; exit 1; }
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
gcc -O2 -march=native -fopenmp "$here/matmul.c" -o "$out/matmul" -ldnnl
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out/matmul" "${RUNS:-5}"
