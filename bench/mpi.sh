#!/usr/bin/env bash
# Data-parallel training on this machine (issue #11): one process with 2 workers (Ember's default on 2
# cores) against `mpirun -np 2` (one worker and one OpenBLAS thread per rank), same global batches.
#
#   bench/mpi.sh                      # every configuration
#   bench/mpi.sh cmnrl-128            # only these
#
# Per configuration and layout: pairs/s = batch / mean step time of the timed steps (the first step is a
# warm-up and is discarded; step time = batch / the step's logged pairs_per_s, OUTPUT/metrics.jsonl);
# peak RSS per process (`/usr/bin/time -f %M` around each rank). A third, profiled 2-rank run
# (EMBER_PROFILE=1) gives rank 0's time per step (totals over all steps, warm-up included, ÷ steps) in the collectives: the embeddings' (and guide's)
# all-gather and the gradient all-reduce. Bytes per step are computed from the shapes: embeddings
# columns × batch × 384 × 4 (GIST: twice, the guide's too), gradients 4 × trained parameters.
# Results: bench/results/mpi/<config>.<layout>.json and the table printed at the end.
#
# Environment: EMBER_BIN (.build/release/ember), MODEL (scripts/fetch-model.sh), DATA (bench/pairs.jsonl).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
EMBER_BIN="${EMBER_BIN:-$root/.build/release/ember}"
MODEL="${MODEL:-$(scripts/fetch-model.sh)}"
DATA="${DATA:-$root/bench/pairs.jsonl}"
OUT="$root/bench/results/mpi"
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# id | batch | timed steps | extra flags
MATRIX="
mnrl-32      32   8 
cmnrl-128    128  4 --mini-batch-size 32
mgist-128    128  4 --mini-batch-size 32 --loss gist --guide $MODEL --matryoshka-dims 384,256,128,64,32
cmnrl-2048   2048 2 --mini-batch-size 32
"
only=("$@")

run() {   # id layout batch steps extra...
  local id=$1 layout=$2 batch=$3 steps=$4; shift 4
  local dir; dir=$(mktemp -d /tmp/ember-mpi-bench.XXXXXX)
  local args=(train --model "$MODEL" --data "$DATA" --batch-size "$batch" --max-steps $((steps + 1)) --seed 1 --output "$dir/out" "$@")
  local wrap="/usr/bin/time -f %M -o $dir/rss.\${OMPI_COMM_WORLD_RANK:-0} $EMBER_BIN"
  case $layout in
    1x2) sh -c "$wrap \"\$@\"" sh "${args[@]}" 2> "$dir/stderr" < /dev/null ;;
    2x1) mpirun -np 2 sh -c "$wrap \"\$@\"" sh "${args[@]}" 2> "$dir/stderr" < /dev/null ;;
    2x1-profile) EMBER_PROFILE=1 mpirun -x EMBER_PROFILE -np 2 sh -c "$wrap \"\$@\"" sh "${args[@]}" 2> "$dir/stderr" < /dev/null ;;
  esac
  local status=$?
  python3 - "$dir" "$id" "$layout" "$batch" "$status" "$OUT/$id.$layout.json" <<'EOF'
import glob, json, re, sys
d, id, layout, batch, status, out = sys.argv[1:]
batch = int(batch)
steps = [json.loads(l) for l in open(f"{d}/out/metrics.jsonl") if '"pairs_per_s"' in l] if status == "0" else []
timed = steps[1:]
seconds = [batch / s["pairs_per_s"] for s in timed]
r = {"config": id, "layout": layout, "status": int(status), "batch": batch, "timed_steps": len(timed),
     "pairs_per_s": round(batch / (sum(seconds) / len(seconds)), 2) if seconds else None,
     "step_seconds": round(sum(seconds) / len(seconds), 3) if seconds else None,
     "allreduced_mb": round(sum(s.get("allreduced_mb", 0) for s in timed) / len(timed), 2) if timed else None,
     "gathered_mb": round(sum(s.get("gathered_mb", 0) for s in timed) / len(timed), 3) if timed else None,
     "peak_rss_mb": [round(int(open(f).read().split()[-1]) / 1024) for f in sorted(glob.glob(f"{d}/rss.*"))]}
profile = {}
for line in open(f"{d}/stderr"):
    m = re.match(r"^(gather embeddings|gather guide|all-reduce gradients|stage 2: loss)\s+([\d.]+)\s+[\d.]+%\s+(\d+)", line)
    if m: profile[m.group(1)] = (float(m.group(2)), int(m.group(3)))
if profile:
    n = profile.get("all-reduce gradients", (0, 1))[1]
    r["per_step_seconds"] = {k: round(t / n, 4) for k, (t, c) in profile.items()}
json.dump(r, open(out, "w"), indent=1)
print(json.dumps(r))
EOF
  rm -rf "$dir"
}

echo "$MATRIX" | while read -r id batch steps extra; do
  [ -z "$id" ] && continue
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $id "* ]]; then continue; fi
  for layout in 1x2 2x1 2x1-profile; do
    # shellcheck disable=SC2086
    run "$id" "$layout" "$batch" "$steps" $extra
  done
done

# The collectives alone (no rank waiting for another): all-reduce of the gradient, all-gather of a batch of
# 2048 pairs' embeddings.
mpirun -np 2 "$EMBER_BIN" bench mpi < /dev/null > "$OUT/collectives.json"

python3 - "$OUT" "$MODEL" <<'EOF'
import glob, json, os, struct, sys
out, model = sys.argv[1:]
raw = open(os.path.join(model, "model.safetensors"), "rb").read()
header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
trained = sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in header.items() if k != "__metadata__" and not k.startswith("pooler"))
R = {(r["config"], r["layout"]): r for r in map(lambda f: json.load(open(f)), glob.glob(f"{out}/*.*.json"))}
C = json.load(open(f"{out}/collectives.json"))
print(f"\ntrained parameters: {trained // 4:,} ({trained / 1e6:.1f} MB; the word embeddings' untouched rows are not all-reduced)")
print(f"alone (ember bench mpi, 2 ranks): all-reduce of {C['allreduce_mb']} MB {C['allreduce_s'] * 1000:.1f} ms, all-gather of {C['allgather_mb']} MB {C['allgather_s'] * 1000:.1f} ms")
print("rank 0's time in a collective includes waiting there for the other rank to finish its share of the step")
print("| configuration | 1 process × 2 workers | 2 ranks × 1 worker | ratio | peak RSS 1×2 | peak RSS per rank | step (2 ranks) | gathered / step | all-reduced / step | rank 0 in all-gathers / step | in all-reduce / step | loss stage (each rank) / step |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for c in ["mnrl-32", "cmnrl-128", "mgist-128", "cmnrl-2048"]:
    a, b, p = R.get((c, "1x2")), R.get((c, "2x1")), R.get((c, "2x1-profile"))
    if not a or not b or not a["pairs_per_s"] or not b["pairs_per_s"]:
        print(f"| {c} | failed or missing: see {out}/{c}.*.json |"); continue
    s = (p or {}).get("per_step_seconds", {})
    ag = s.get("gather embeddings", 0) + s.get("gather guide", 0)
    print(f"| {c} | {a['pairs_per_s']} pairs/s | {b['pairs_per_s']} pairs/s | {b['pairs_per_s'] / a['pairs_per_s']:.2f}× | "
          f"{a['peak_rss_mb'][0]:,} MB | {', '.join(f'{x:,}' for x in b['peak_rss_mb'])} MB | {b['step_seconds']:.2f} s | {b.get('gathered_mb') or 0:.2f} MB | {b.get('allreduced_mb') or 0:.1f} MB | "
          f"{ag * 1000:.1f} ms | {s.get('all-reduce gradients', 0) * 1000:.1f} ms | {s.get('stage 2: loss', 0) * 1000:.1f} ms |")
EOF
