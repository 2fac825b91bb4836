#!/usr/bin/env bash
# `make bench`: Ember's encode throughput and peak memory on bench/texts.txt, side by side with
# sentence-transformers when its reference venv exists (parity/setup_reference_venv.sh creates it).
set -euo pipefail
ember="$1"; model="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
batch="${BATCH_SIZE:-32}"
echo "| implementation | texts | batch | sentences/s | tokens/s | peak RSS (MB) |"
echo "| --- | --- | --- | --- | --- | --- |"
"$ember" bench encode --model "$model" --input "$root/bench/texts.txt" --batch-size "$batch" | python3 -c '
import json, sys; r = json.loads(sys.stdin.read())
print(f"| Ember ({r[\"blas_core\"]}, {r[\"threads\"]} threads) | {r[\"n_texts\"]} | {r[\"batch_size\"]} | {r[\"sentences_per_s\"]} | {r[\"tokens_per_s\"]:.0f} | {r[\"peak_rss_mb\"]} |")'
py="$root/.venv-reference/bin/python"
if [ -x "$py" ]; then
    "$py" "$root/bench/encode_reference.py" --batch-size "$batch" | python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("{"):
        r = json.loads(line)
        print(f"| sentence-transformers (torch {r[\"versions\"][\"torch\"]}, {r[\"torch_threads\"]} threads) | {r[\"n_texts\"]} | {r[\"batch_size\"]} | {r[\"sentences_per_s\"]} | {r[\"tokens_per_s\"]:.0f} | {r[\"peak_rss_mb\"]} |")'
else
    echo "(sentence-transformers not measured: run parity/setup_reference_venv.sh first)" >&2
fi
