#!/usr/bin/env bash
# Hard-negative mining: `ember mine` vs sentence-transformers' mine_hard_negatives (exact and faiss) on
# real (heading → paragraph) pairs from Debian documentation packages (bench/make_mining_pairs.py).
#
#   bench/mine.sh                  # N = 10000 100000 (the benchmark; run it on a quiet machine)
#   bench/mine.sh 2000             # a smoke run
#   TOOLS=ember bench/mine.sh 10000
#
# Per N: the pairs file is sampled once (seeded) from all pairs, then — sequentially, one at a time —
#   ember     `ember mine` with the NV-Retriever recipe (relative margin 0.05, top, 10 negatives, n-tuple)
#   st        bench/mine_reference.py, use_faiss False (exact search, torch)
#   st-faiss  bench/mine_reference.py --use-faiss
# each under `/usr/bin/time -v` (wall clock, Maximum resident set size) with an RSS watchdog, then
# the outputs are compared (ember vs st, st-faiss vs st) and a Markdown table of this invocation's N is
# printed ($RESULTS/$PREFIX.md gets every N measured under the prefix). One JSON per run: $RESULTS/$PREFIX-N.{ember,st,st-faiss}.json, plus
# $PREFIX-N.compare.json. The mined rows stay in $WORK_DIR (git-ignored; 100k rows are ~300 MB).
#
# Why a watchdog and not `prlimit --as`: torch reserves far more address space than it touches, so an
# address-space limit kills it for nothing; resident memory is what can take the machine down. The
# reference's exact path scores a faiss_batch_size (16384) × corpus block at a time (~6 GB at 100k), so
# the watchdog polls the RSS of the whole process tree every 0.5 s and kills it above RSS_LIMIT_MB;
# the run is then recorded as "killed at X GB after Y s".
#
# Environment: TOOLS ("ember st st-faiss"), RESULTS (bench/results), PREFIX (i9-mine),
# WORK_DIR (bench/data: pairs and mined rows), EMBER_BIN (.build/release/ember, else
# .build-mine/release/ember), PY (.venv-reference/bin/python of this checkout, else of the main
# worktree), MODEL (scripts/fetch-model.sh), RSS_LIMIT_MB (20480), BATCH (32: the default of both
# `ember mine --batch-size` and mine_hard_negatives), NUM_NEGATIVES (10), RELATIVE_MARGIN (0.05),
# RANGE_MAX (empty: derived, as both tools do by default), THREADS (2, the reference's torch threads),
# SEED (the pairs sample's seed; make_mining_pairs.py's default when empty).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

NS=("$@"); [ ${#NS[@]} -eq 0 ] && NS=(10000 100000)
TOOLS="${TOOLS:-ember st st-faiss}"
RESULTS="${RESULTS:-$root/bench/results}"
PREFIX="${PREFIX:-i9-mine}"
WORK_DIR="${WORK_DIR:-$root/bench/data}"
RSS_LIMIT_MB="${RSS_LIMIT_MB:-20480}"
BATCH="${BATCH:-32}"
NUM_NEGATIVES="${NUM_NEGATIVES:-10}"
RELATIVE_MARGIN="${RELATIVE_MARGIN:-0.05}"
RANGE_MAX="${RANGE_MAX:-}"
THREADS="${THREADS:-2}"
SEED="${SEED:-}"
if [ -z "${EMBER_BIN:-}" ]; then
    EMBER_BIN="$root/.build/release/ember"
    [ -x "$EMBER_BIN" ] || EMBER_BIN="$root/.build-mine/release/ember"
fi
if [ -z "${PY:-}" ]; then
    # A linked worktree has no venv of its own; the main worktree's (parity/setup_reference_venv.sh) is used.
    PY="$root/.venv-reference/bin/python"
    main_wt="$(dirname "$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo /nonexistent/.git)")"
    [ -x "$PY" ] || PY="$main_wt/.venv-reference/bin/python"
fi
mkdir -p "$RESULTS" "$WORK_DIR"
log() { echo "[bench_mine $(date +%H:%M:%S)] $*" >&2; }

[ -x /usr/bin/time ] || { log "/usr/bin/time is missing: apt-get install -y time"; exit 1; }
[ -x "$PY" ] || { log "no reference venv python at $PY (set PY=…)"; exit 1; }
if [[ " $TOOLS " == *" st-faiss "* ]] && ! "$PY" -c "import faiss" 2>/dev/null; then
    log "faiss is not installed in $PY's venv: $PY -m pip install faiss-cpu"; exit 1
fi
MODEL="${MODEL:-$("$root/scripts/fetch-model.sh")}"
TMP="$(mktemp -d /tmp/bench_mine.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

MACHINE="$(python3 -c "
import os
m = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
mem = int(next(l.split()[1] for l in open('/proc/meminfo') if l.startswith('MemTotal'))) / 1024 / 1024
print(f'{os.cpu_count()} × {m}, {mem:.0f} GB RAM')")"

# --- the Ember binary: wait while it is missing or being rebuilt, then run a private copy, so that every
# Ember run of this invocation uses the same binary (its hash goes into the JSON) ---------------------
EMBER_SHA="" EMBER_MTIME=""
snapshot_ember() {
    [ -n "$EMBER_SHA" ] && return
    local tries=0
    while :; do
        if [ -x "$EMBER_BIN" ] && [ $(( $(date +%s) - $(stat -c %Y "$EMBER_BIN") )) -gt 20 ] \
            && "$EMBER_BIN" mine --help >/dev/null 2>&1; then
            cp "$EMBER_BIN" "$TMP/ember" && break
        fi
        tries=$((tries + 1)); [ $tries -gt 40 ] && { log "no usable $EMBER_BIN after 20 min"; exit 1; }
        log "waiting for $EMBER_BIN (missing or being rebuilt)"; sleep 30
    done
    EMBER_SHA="$(sha256sum "$TMP/ember" | cut -c1-16)"
    EMBER_MTIME="$(date -r "$EMBER_BIN" -Iseconds)"
}

# --- the pairs: all of them parsed once (minutes), then one seeded sample per N -------------------
ALL="$WORK_DIR/mining-pairs-all.jsonl"
if [ ! -s "$ALL" ]; then
    log "building $ALL from the Debian documentation packages (a few minutes)"
    python3 bench/make_mining_pairs.py --out "$ALL" --sources "$WORK_DIR/mining-pairs-sources.json" || exit 1
fi
cp "$WORK_DIR/mining-pairs-sources.json" "$RESULTS/$PREFIX.sources.json" 2>/dev/null || true

# --- one measured run: /usr/bin/time -v + RSS watchdog ----------------------------------------------
# run_measured WORKPREFIX cmd... → WORKPREFIX.{stdout,stderr,time,rc,watch}
run_measured() {
    local w="$1"; shift
    rm -f "$w".{stdout,stderr,time,rc,watch}
    /usr/bin/time -v -o "$w.time" "$@" >"$w.stdout" 2>"$w.stderr" &
    local pid=$!
    python3 - "$pid" "$RSS_LIMIT_MB" "$w.watch" <<'PY' &
# Polls the resident memory of everything under /usr/bin/time (our own child) and SIGKILLs that
# subtree above the limit. Only descendants of the pid we started are touched.
import json, os, signal, sys, time
root, limit_mb, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
def tree():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                s = open(f"/proc/{d}/stat").read()
                kids.setdefault(int(s[s.rfind(")") + 2:].split()[1]), []).append(int(d))
            except OSError:
                pass
    pids, stack = [], [root]
    while stack:
        p = stack.pop(); pids.append(p); stack += kids.get(p, [])
    return pids
def rss_mb(pids):
    tot = 0
    for p in pids:
        try:
            tot += int(open(f"/proc/{p}/statm").read().split()[1]) * page_kb
        except OSError:
            pass
    return tot / 1024
t0, peak, rec = time.time(), 0.0, {"killed": False}
while os.path.exists(f"/proc/{root}"):
    pids = tree(); mb = rss_mb(pids); peak = max(peak, mb)
    if mb > limit_mb:
        for p in reversed(pids[1:]):          # the command and its children, not /usr/bin/time itself
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        rec = {"killed": True, "killed_at_mb": round(mb, 1), "after_s": round(time.time() - t0, 1)}
        break
    time.sleep(0.5)
rec["max_tree_rss_mb_sampled"] = round(peak, 1)
json.dump(rec, open(out, "w"))
PY
    local mon=$!
    wait "$pid"; echo $? >"$w.rc"
    wait "$mon" 2>/dev/null
}

measure() {  # N tool pairs-file
    local n="$1" tool="$2" data="$3"
    local mined="$WORK_DIR/mined-$n.$tool.jsonl" w="$TMP/$n.$tool" cmd=()
    rm -f "$mined"
    local range=(); [ -n "$RANGE_MAX" ] && range=(--range-max "$RANGE_MAX")
    case "$tool" in
        ember)
            snapshot_ember
            cmd=("$TMP/ember" mine --model "$MODEL" --data "$data" --output "$mined"
                 --num-negatives "$NUM_NEGATIVES" --relative-margin "$RELATIVE_MARGIN" --sampling top
                 --output-format n-tuple --batch-size "$BATCH" "${range[@]}") ;;
        st|st-faiss)
            local faiss=(); [ "$tool" = st-faiss ] && faiss=(--use-faiss)
            cmd=("$PY" bench/mine_reference.py --model "$MODEL" --data "$data" --out "$mined"
                 --num-negatives "$NUM_NEGATIVES" --relative-margin "$RELATIVE_MARGIN" --sampling top
                 --output-format n-tuple --batch-size "$BATCH" --threads "$THREADS" "${range[@]}" "${faiss[@]}") ;;
        *) log "unknown tool $tool"; return ;;
    esac
    local load; read -r l1 l5 l15 _ </proc/loadavg; load="$l1 $l5 $l15"
    log "N=$n $tool (load $load): ${cmd[*]}"
    run_measured "$w" "${cmd[@]}"
    local shown; shown="$(printf '%q ' "${cmd[@]}" | sed "s#$TMP/ember#ember#; s#$MODEL#\$M#g; s#$root/##g")"
    python3 bench/mine_table.py record --out "$RESULTS/$PREFIX-$n.$tool.json" --n "$n" --tool "$tool" \
        --work "$w" --mined "$mined" --data "$data" --command "$shown" --load "$load" --machine "$MACHINE" \
        --rss-limit-mb "$RSS_LIMIT_MB" --ember-sha "$EMBER_SHA" --ember-mtime "$EMBER_MTIME"
    # Keep the tools' stderr (statistics, progress) next to the mined rows for a look afterwards.
    cp "$w.stderr" "$WORK_DIR/mined-$n.$tool.stderr" 2>/dev/null || true
    cp "$w.stdout" "$WORK_DIR/mined-$n.$tool.stdout" 2>/dev/null || true
}

for n in "${NS[@]}"; do
    pairs="$WORK_DIR/mining-pairs-$n.jsonl"
    python3 bench/make_mining_pairs.py --from "$ALL" --count "$n" --out "$pairs" ${SEED:+--seed "$SEED"} || exit 1
    for tool in $TOOLS; do
        measure "$n" "$tool" "$pairs" </dev/null
    done
    python3 bench/mine_table.py compare --results "$RESULTS" --prefix "$PREFIX" --n "$n"
done
# This invocation's N on stdout; $PREFIX.md holds every N measured so far under this prefix.
python3 bench/mine_table.py table --results "$RESULTS" --prefix "$PREFIX" --ns "${NS[@]}"
python3 bench/mine_table.py table --results "$RESULTS" --prefix "$PREFIX" >"$RESULTS/$PREFIX.md"
