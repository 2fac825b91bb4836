#!/usr/bin/env bash
# `make bench`: issue #10's side-by-side performance table, in one run on this machine.
#
#   bench/perf.sh [EMBER_BIN] [MODEL_DIR]       # everything (≈ 25 min with the reference)
#   IMPLS=ember bench/perf.sh                    # Ember only (also when the reference venv is missing)
#
# 1. the fp32 ceiling: `ember bench sgemm` (the step's products, OpenBLAS threads vs one product per core);
# 2. encoding, batch 32, best of 3 passes, fp32 and (when oneDNN and AVX512_BF16 are there) --precision bf16: bench/texts.txt (4,000 sentences and passages) and the demo's
#    short chat texts (every distinct text of demo/data, 12–15 tokens);
# 3. training (bench/train.sh, which waits for a quiet machine and records the foreign load): MNRL 32,
#    cached MNRL 128/32, Matryoshka(cached GIST) 128/32, cached MNRL 2048/32, and Ember's cached MNRL 256
#    (the flat-memory check); then Ember's four again with --precision bf16 (results in bf16/);
# 4. end to end: Matryoshka(cached GIST, guide = the base model), batch 64, mini-batch 16, 2 epochs over the
#    demo's 847 pairs — Ember's whole process (start to saved folder) against the reference trainer's
#    `train()` alone (bench/finetune_reference.py); Ember also with --precision bf16.
# Achieved GFLOP/s = useful FLOPs (forward + backward over the step's tokens; GradCache's replays and the
# guide not counted) ÷ time, against the ceiling of step 1. Writes bench/results/perf/*.json and PERF.md,
# and replaces the table between the perf-table markers in README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
EMBER="${1:-${EMBER_BIN:-$root/.build/release/ember}}"
MODEL="${2:-${MODEL:-$("$root/scripts/fetch-model.sh")}}"
OUT="${RESULTS:-$root/bench/results/perf}"
PY="${PY:-$root/.venv-reference/bin/python}"
IMPLS="${IMPLS:-ember st}"
[ -x "$PY" ] || { echo "perf: no reference venv ($PY; parity/setup_reference_venv.sh makes it): Ember only" >&2; IMPLS=ember; }
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/ember-perf.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
log() { echo "[perf $(date +%H:%M:%S)] $*" >&2; }
cp "$EMBER" "$WORK/ember"

log "sgemm ceiling"
"$WORK/ember" bench sgemm --runs 5 >"$OUT/sgemm.json"
cat "$OUT/sgemm.json" >&2

python3 - "$WORK/chat.txt" <<'PY'
import json, sys, glob
seen, out = set(), []
def add(t):
    t = " ".join(t.split())
    if t and t not in seen:
        seen.add(t); out.append(t)
for line in open("demo/data/train.jsonl", encoding="utf-8"):
    for v in json.loads(line).values():
        if isinstance(v, str): add(v)
for name in ("queries", "corpus"):
    for line in open(f"demo/data/heldout/{name}.jsonl", encoding="utf-8"):
        add(json.loads(line).get("text", ""))
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(out) + "\n")
PY
# stdin: one JSON object; stdout: the same with the load average read before the run ($1) added.
with_load() { python3 -c "import json,sys; r=json.loads(sys.stdin.read()); r['load_before']='$1'; print(json.dumps(r))"; }
for workload in texts chat; do
    input="$root/bench/texts.txt"; [ $workload = chat ] && input="$WORK/chat.txt"
    log "encode $workload: ember"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    "$WORK/ember" bench encode --model "$MODEL" --input "$input" --batch-size 32 --runs 3 \
        | with_load "$load" >"$OUT/encode-$workload.ember.json"
    log "encode $workload: ember --precision bf16"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    if "$WORK/ember" bench encode --model "$MODEL" --input "$input" --batch-size 32 --runs 3 --precision bf16 >"$WORK/bf16.json"; then
        with_load "$load" <"$WORK/bf16.json" >"$OUT/encode-$workload.ember-bf16.json"
    else
        log "encode $workload: no bf16 (the error above)"; rm -f "$OUT/encode-$workload.ember-bf16.json"
    fi
    if [[ " $IMPLS " == *" st "* ]]; then
        log "encode $workload: sentence-transformers"
        load="$(cut -d' ' -f1-3 /proc/loadavg)"
        "$PY" bench/encode_reference.py --texts "$input" --batch-size 32 --runs 3 | grep '^{' | tail -1 \
            | with_load "$load" >"$OUT/encode-$workload.st.json"
    fi
done

log "training"
RESULTS="$OUT" FORCE=1 IMPLS="$IMPLS" EMBER_BIN="$WORK/ember" MODEL="$MODEL" ST_2048=0 \
    bench/train.sh i3-mnrl-32 i3-cmnrl-128 i3-cmnrl-256 i4-mcgist-128 i3-cmnrl-2048 >/dev/null
bf16=0
[ -f "$OUT/encode-texts.ember-bf16.json" ] && bf16=1
if [ $bf16 = 1 ]; then
    log "training: ember --precision bf16"
    RESULTS="$OUT/bf16" FORCE=1 IMPLS=ember EMBER_PRECISION=bf16 EMBER_BIN="$WORK/ember" MODEL="$MODEL" \
        bench/train.sh i3-mnrl-32 i3-cmnrl-128 i4-mcgist-128 i3-cmnrl-2048 >/dev/null
fi

for precision in fp32 bf16; do
    [ $precision = bf16 ] && [ $bf16 = 0 ] && continue
    name=ember; [ $precision = bf16 ] && name=ember-bf16
    log "end to end: $name"
    rm -rf "$WORK/e2e"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -f "%e %M" -o "$WORK/e2e.time" "$WORK/ember" train --model "$MODEL" --data demo/data/train.jsonl \
        --output "$WORK/e2e" --loss gist --guide "$MODEL" --matryoshka-dims 384,256,128,64,32 --batch-size 64 \
        --mini-batch-size 16 --epochs 2 --precision $precision 2>"$WORK/e2e.err"
    read -r wall rss <"$WORK/e2e.time"
    python3 -c "import json; print(json.dumps({'impl': '$name', 'wall_s': $wall, 'peak_rss_mb': round($rss / 1024, 1), 'load_before': '$load', 'steps': sum(1 for _ in open('$WORK/e2e/metrics.jsonl'))}))" >"$OUT/e2e.$name.json"
done
if [[ " $IMPLS " == *" st "* ]]; then
    log "end to end: sentence-transformers"
    if "$PY" bench/finetune_reference.py --data demo/data/train.jsonl --guide "$MODEL" >"$WORK/e2e-st.out" 2>"$WORK/e2e-st.err"; then
        grep '^{"impl"' "$WORK/e2e-st.out" | tail -1 >"$OUT/e2e.st.json"
    else
        log "the reference trainer failed: $(tail -n 2 "$WORK/e2e-st.err")"; rm -f "$OUT/e2e.st.json"
    fi
fi

python3 bench/perf_table.py "$OUT" README.md
