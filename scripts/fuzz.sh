#!/usr/bin/env bash
# libFuzzer + AddressSanitizer harnesses for Ember's input parsers (the Fuzz/ package).
#
#   scripts/fuzz.sh TARGET|all [SECONDS]   build, then fuzz each target for SECONDS (default 60)
#   scripts/fuzz.sh replay [TARGET|all]    build, then run every seed and saved finding once (-runs=0)
#   scripts/fuzz.sh build | list
#
# Targets: safetensors tokenizer-json vocab bert-config st-config text-data.
# Seeds are Fuzz/corpus/<target>/ (committed); inputs libFuzzer finds go to .build-fuzz/corpus/<target>/
# (git-ignored); crashing inputs to Fuzz/findings/<target>/ (harnesses step around the known ones while
# fuzzing, EMBER_FUZZ_SKIP_KNOWN=1; replay runs them as they are). Builds and runs hold the lock file
# $EMBER_HEAVY_LOCK (default /tmp/ember-heavy.lock) so they never overlap other heavy jobs, and a long run
# is split into stints of at most $FUZZ_STINT seconds (default 300), each taking the lock anew.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=$ROOT/.build-fuzz
BIN=$SCRATCH/release
LOCK=${EMBER_HEAVY_LOCK:-/tmp/ember-heavy.lock}
STINT=${FUZZ_STINT:-300}
JOBS=${FUZZ_JOBS:-2}
TARGETS=(safetensors tokenizer-json vocab bert-config st-config text-data)
# Let ASan and libFuzzer report crashes (not the Swift runtime backtracer); OpenBLAS single-threaded.
export SWIFT_BACKTRACE=enable=no OPENBLAS_NUM_THREADS=1
export LSAN_OPTIONS="suppressions=$ROOT/Fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export EMBER_TINY_BERT=${EMBER_TINY_BERT:-$ROOT/../shared/reference/tiny-bert}

product() {
  case $1 in
    safetensors) echo FuzzSafeTensors ;; tokenizer-json) echo FuzzTokenizerJSON ;; vocab) echo FuzzVocab ;;
    bert-config) echo FuzzBertConfig ;; st-config) echo FuzzSTConfig ;; text-data) echo FuzzTextData ;;
    *) echo "unknown target '$1' (${TARGETS[*]})" >&2; exit 2 ;;
  esac
}

heavy() { if command -v flock >/dev/null; then flock "$LOCK" "$@"; else "$@"; fi; }

build() {
  make -s deps
  # lld: gold fails on these ASan objects. -parse-as-library is implied (each harness has an @main).
  (cd Fuzz && heavy swift build --scratch-path "$SCRATCH" -c release \
     -Xswiftc -sanitize=fuzzer,address -Xswiftc -target-cpu -Xswiftc native -Xswiftc -use-ld=lld 2>&1 \
     | grep -v '^\[' | grep -v 'Cannot export local symbol' || true)
  for t in "${TARGETS[@]}"; do [ -x "$BIN/$(product "$t")" ] || { echo "build failed: $(product "$t") missing" >&2; exit 1; }; done
}

FLAGS=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1)

# fuzz TARGET SECONDS: stints of at most $STINT seconds, each timed from when it holds the lock; one
# summary line per target. FUZZ_JOBS=N (default 2: the lock makes this the machine's one heavy job) runs
# libFuzzer's fork mode with N workers.
fuzz() {
  local t=$1 total=$2 bin left n=0 execs=0 cov=? corp=? secs=0 status=ok findings=$ROOT/Fuzz/findings/$1 mode=()
  bin=$BIN/$(product "$t")
  [ "$JOBS" -gt 1 ] && mode=(-fork="$JOBS" -ignore_timeouts=0 -ignore_ooms=0)  # fork mode ignores them by default
  mkdir -p "$SCRATCH/corpus/$t" "$SCRATCH/logs" "$findings"
  left=$total
  while [ "$left" -gt 0 ]; do
    local s=$(( left < STINT ? left : STINT )) log e
    n=$((n + 1)); log=$SCRATCH/logs/$t-$(date -u +%Y%m%dT%H%M%S)-$n.log
    if heavy sh -c 'echo "WALL-START $(date +%s)"; "$@"; rc=$?; echo "WALL-END $(date +%s)"; exit $rc' sh \
         "$bin" "${FLAGS[@]}" "${mode[@]}" -max_total_time="$s" -artifact_prefix="$findings/" \
         "$SCRATCH/corpus/$t" "$ROOT/Fuzz/corpus/$t" >"$log" 2>&1; then :; else status="FINDING (see $log)"; fi
    if [ "$JOBS" -gt 1 ]; then e=$(grep -o '^#[0-9]*: cov' "$log" | tail -1 | tr -dc 0-9)
    else e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1); fi
    execs=$((execs + ${e:-0}))
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true); cov=${cov:-?}
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true); corp=${corp:-?}
    secs=$((secs + $(awk '/^WALL-START/{s=$2} /^WALL-END/{e=$2} END{print (e && s) ? e - s : 0}' "$log")))
    left=$((left - s))
    [ "$status" = ok ] || break
  done
  local rate=$(( secs > 0 ? execs / secs : execs ))
  printf '%-15s executions %10d  exec/s %6d  time %5ds  corpus %6s  cov %6s  crashes %s\n' \
    "$t" "$execs" "$rate" "$secs" "$corp" "$cov" "$status"
  printf '%s\t%s\t%d\t%d\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$execs" "$secs" "$corp" "$cov" "$status" >>"$SCRATCH/fuzz-stats.tsv"
  [ "$status" = ok ] || FUZZ_FAILED=1
}

# replay TARGET: every seed once, then every saved finding once, each reported as still reproducing or
# fixed; it fails if a seed crashes or a finding still reproduces (every finding so far is fixed).
replay() {
  local t=$1 bin status=ok seeds=() f
  bin=$BIN/$(product "$t")
  while IFS= read -r f; do seeds+=("$f"); done < <(find "$ROOT/Fuzz/corpus/$t" -type f | sort)
  heavy "$bin" "${FLAGS[@]}" -runs=1 "${seeds[@]}" >"$SCRATCH/logs/replay-$t.log" 2>&1 || status="FAILED (see $SCRATCH/logs/replay-$t.log)"
  printf '%-15s replayed %4d seeds: %s\n' "$t" "${#seeds[@]}" "$status"
  if [ -d "$ROOT/Fuzz/findings/$t" ]; then
    while IFS= read -r f; do
      if heavy "$bin" "${FLAGS[@]}" -runs=1 "$f" >"$SCRATCH/logs/replay-$t-finding.log" 2>&1; then
        printf '%-15s   finding %s: no longer reproduces\n' "$t" "${f#$ROOT/}"
      else
        printf '%-15s   finding %s: still reproduces (%s)\n' "$t" "${f#$ROOT/}" \
          "$(grep -m1 -o 'ERROR: [A-Za-z]*: [a-z -]*\|Fatal error: [^\n]*' "$SCRATCH/logs/replay-$t-finding.log" || echo crash)"
        status="a finding still reproduces"
      fi
    done < <(find "$ROOT/Fuzz/findings/$t" -type f ! -name '*.md' | sort)
  fi
  [ "$status" = ok ]
}

cmd=${1:-}
case $cmd in
  list) printf '%s\n' "${TARGETS[@]}" ;;
  build) build ;;
  replay)
    sel=${2:-all}; [ "$sel" = all ] && sel="${TARGETS[*]}"
    build; mkdir -p "$SCRATCH/logs"; rc=0
    for t in $sel; do product "$t" >/dev/null; replay "$t" || rc=1; done
    exit $rc ;;
  ""|-h|--help) sed -n '2,13p' "$0"; exit 2 ;;
  *)
    sel=$cmd; [ "$sel" = all ] && sel="${TARGETS[*]}"
    for t in $sel; do product "$t" >/dev/null; done
    build
    export EMBER_FUZZ_SKIP_KNOWN=1
    FUZZ_FAILED=0
    for t in $sel; do fuzz "$t" "${2:-60}"; done
    exit $FUZZ_FAILED ;;
esac
