#!/usr/bin/env bash
# Training throughput and peak memory: `ember train` vs sentence-transformers on bench/pairs.jsonl.
#
#   bench/train.sh                 # the whole matrix (both implementations)
#   bench/train.sh i3-cmnrl-128 i4-guidecache     # only these configurations
#   IMPLS=ember bench/train.sh     # only Ember
#   bench/train.sh --table         # only (re)write bench/results/TRAINING.md
#   bench/train.sh --list          # print the matrix
#
# Every measurement writes bench/results/<config>.<impl>.json; an existing result is kept (skipped)
# unless FORCE=1. At the end bench/results/TRAINING.md is regenerated from all JSON files there.
#
# Ember: `ember train ... --max-steps 1+T`; the first step is a warm-up and is discarded; pairs/s =
# batch / mean(step time of the T timed steps), step time = batch / the step's logged pairs_per_s
# (OUTPUT/metrics.jsonl). Peak RSS = `/usr/bin/time -f %M`. sentence-transformers:
# bench/train_reference.py (same definition of pairs/s, REF_WARMUP warm-up steps), peak RSS
# also from /usr/bin/time.
#
# The machine may be shared: before each measurement the 1-minute load is read; while it is above
# LOAD_MAX *and* the CPUs are actually busy right now (load left over from our own previous run
# decays slowly and is not a reason to wait) we sleep 30 s, up to WAIT_MAX_S. During each run a
# sampler measures the CPU used by processes outside the benchmark ("foreign" cores); a run with a
# mean foreign load above CONTENDED_CORES is repeated (RETRIES times) and the least contended
# attempt is kept; the JSON records loads, waits and the foreign load either way.
#
# Environment: IMPLS ("ember st"), FORCE (0), RESULTS (bench/results), EMBER_BIN
# (.build/release/ember), PY (.venv-reference/bin/python), MODEL (scripts/fetch-model.sh),
# DATA (bench/pairs.jsonl), LOAD_MAX (1.5), WAIT_MAX_S (240), CONTENDED_CORES (0.25), RETRIES (1),
# EMBER_PRECISION (fp32; bf16 adds `--precision bf16` to Ember's runs: use another RESULTS),
# REF_WARMUP (default: 2 below batch 512, else 1), ST_2048 (1: also run the reference at 2048 for
# GIST/Matryoshka; 0 skips them: its cached GIST takes ~5 min a step there), ST_TIMEOUT_S (0 = no
# limit; a reference run over it is recorded as status "timeout").
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

IMPLS="${IMPLS:-ember st}"
FORCE="${FORCE:-0}"
RESULTS="${RESULTS:-$root/bench/results}"
EMBER_BIN="${EMBER_BIN:-$root/.build/release/ember}"
PY="${PY:-$root/.venv-reference/bin/python}"
DATA="${DATA:-$root/bench/pairs.jsonl}"
LOAD_MAX="${LOAD_MAX:-1.5}"
WAIT_MAX_S="${WAIT_MAX_S:-240}"
CONTENDED_CORES="${CONTENDED_CORES:-0.25}"
RETRIES="${RETRIES:-1}"
ST_2048="${ST_2048:-1}"
EMBER_PRECISION="${EMBER_PRECISION:-fp32}"
MATRYOSHKA_DIMS="384,256,128,64,32"
mkdir -p "$RESULTS"

# id | issue | loss (ember spelling; st loss name) | batch | mini-batch (- = plain) | matryoshka (0/1) | impls
MATRIX="
i3-mnrl-32      3 mnrl  mnrl              32   -  0 ember,st
i3-mnrl-128     3 mnrl  mnrl              128  -  0 ember,st
i3-mnrl-512     3 mnrl  mnrl              512  -  0 ember,st
i3-cmnrl-32     3 mnrl  cmnrl             32   32 0 ember
i3-cmnrl-128    3 mnrl  cmnrl             128  32 0 ember,st
i3-cmnrl-256    3 mnrl  cmnrl             256  32 0 ember
i3-cmnrl-512    3 mnrl  cmnrl             512  32 0 ember,st
i3-cmnrl-1024   3 mnrl  cmnrl             1024 32 0 ember
i3-cmnrl-2048   3 mnrl  cmnrl             2048 32 0 ember,st
i4-cgist-128    4 gist  cgist             128  32 0 ember,st
i4-cgist-512    4 gist  cgist             512  32 0 ember,st
i4-mcgist-128   4 gist  matryoshka-cgist  128  32 1 ember,st
i4-mcgist-512   4 gist  matryoshka-cgist  512  32 1 ember,st
i4-guidecache   4 gist  -                 128  32 0 ember
i4-cgist-2048   4 gist  cgist             2048 32 0 ember,st2048
i4-mcgist-2048  4 gist  matryoshka-cgist  2048 32 1 ember,st2048
"

log() { echo "[bench_train $(date +%H:%M:%S)] $*" >&2; }

write_table() {
    python3 - "$RESULTS" <<'PY'
import json, glob, os, sys
res = sys.argv[1]
runs = {}
for f in sorted(glob.glob(os.path.join(res, "*.json"))):
    try:
        r = json.load(open(f))
    except Exception:
        continue
    if "config" in r and "impl" in r:
        runs[(r["config"], r["impl"])] = r
order = [l.split()[0] for l in os.environ["MATRIX"].strip().splitlines()]
labels = {
    "mnrl": "MNRL", "cmnrl": "Cached MNRL (mini 32)", "cgist": "Cached GIST (mini 32)",
    "matryoshka-cgist": "Matryoshka(Cached GIST) (mini 32)",
}
def fmt(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"
def cell_pps(r):
    if r is None: return "–", None
    if r.get("status") != "ok": return r.get("status", "failed").upper(), None
    star = " *" if r.get("contended") else ""
    return f"{r['pairs_per_s']:.1f}{star}", r["pairs_per_s"]
def cell_rss(r):
    if r is None or r.get("peak_rss_mb") is None: return "–", None
    return f"{r['peak_rss_mb']:.0f}", r["peak_rss_mb"]
out = ["# Training throughput: Ember vs sentence-transformers", "",
       "Generated by `bench/train.sh` from `bench/results/*.json` (one file per measurement).",
       "Data: `bench/pairs.jsonl` (4,008 short (anchor, positive) pairs). Model: all-MiniLM-L6-v2 (guide for",
       "GIST: a frozen copy of the same model). pairs/s = batch / mean time of the timed steps (warm-up",
       "discarded). Peak RSS = `/usr/bin/time -f %M` of the whole process, MB. speed ratio = Ember pairs/s ÷",
       "ST pairs/s; memory ratio = Ember peak RSS ÷ ST peak RSS. `*` = the run shared the CPUs with other",
       "work (mean foreign load above the threshold, see the JSON), `OOM`/`FAILED` = the run did not finish.", ""]
machine = next((r.get("machine") for r in runs.values() if r.get("machine")), None)
if machine:
    out += [f"Machine: {machine}", ""]
bins = sorted({(r["ember_binary_sha256_16"], r.get("ember_binary_mtime")) for r in runs.values() if r.get("ember_binary_sha256_16")})
if bins:
    out += ["Ember binary (release, -target-cpu native): " + "; ".join(f"sha256 {h}… built {t}" for h, t in bins),
            "sentence-transformers: bench/train_reference.py, torch CPU, 2 threads.", ""]
for issue in ("3", "4"):
    lo = ["mnrl", "cmnrl", "cgist", "matryoshka-cgist"]
    meta = {l.split()[0]: l.split() for l in os.environ["MATRIX"].strip().splitlines()}
    rows = sorted((c for c in order if c.startswith(f"i{issue}-") and c != "i4-guidecache"),
                  key=lambda c: (lo.index(meta[c][3]) if meta[c][3] in lo else 9, int(meta[c][4])))
    out += [f"## Issue {issue}", "",
            "| configuration | batch | Ember pairs/s | Ember peak RSS (MB) | ST pairs/s | ST peak RSS (MB) | speed ratio | memory ratio | timed steps (Ember / ST) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in rows:
        e, s = runs.get((c, "ember")), runs.get((c, "st"))
        any_r = e or s
        if any_r is None: continue
        ep, epv = cell_pps(e); er, erv = cell_rss(e)
        sp, spv = cell_pps(s); sr, srv = cell_rss(s)
        speed = f"{epv / spv:.2f}×" if epv and spv else "–"
        mem = f"{erv / srv:.2f}×" if erv and srv and (s or {}).get("status") == "ok" else "–"
        steps = f"{len(e['steps_s']) if e and e.get('steps_s') else '–'} / {len(s['steps_s']) if s and s.get('steps_s') else '–'}"
        out.append(f"| {labels.get(any_r['st_loss'], any_r['st_loss'])} | {any_r['batch_size']} | {ep} | {er} | {sp} | {sr} | {speed} | {mem} | {steps} |")
    out.append("")
    if issue == "3":
        a, b = runs.get(("i3-cmnrl-1024", "ember")), runs.get(("i3-cmnrl-32", "ember"))
        if a and b and a.get("peak_rss_mb") and b.get("peak_rss_mb"):
            out += [f"Ember cached MNRL peak RSS, batch 1024 ÷ batch 32: {a['peak_rss_mb']:.0f} MB ÷ {b['peak_rss_mb']:.0f} MB = **{a['peak_rss_mb'] / b['peak_rss_mb']:.2f}×**", ""]
g = runs.get(("i4-guidecache", "ember"))
if g and g.get("status") == "ok":
    gc = g["guide_cache"]
    out += ["### Guide-cache speed-up (Ember cached GIST, batch 128, mini 32, 2 epochs on the first 512 rows)", "",
            "| | steps | mean step time (s) | pairs/s |", "| --- | ---: | ---: | ---: |",
            f"| epoch 1 (cold: every text embedded by the guide), all steps | {len(gc['epoch1_steps_s'])} | {gc['epoch1_mean_s']:.3f} | {128 / gc['epoch1_mean_s']:.1f} |",
            f"| epoch 1, without the first (warm-up) step | {len(gc['epoch1_steps_s']) - 1} | {gc['epoch1_mean_excl_first_s']:.3f} | {128 / gc['epoch1_mean_excl_first_s']:.1f} |",
            f"| epoch 2 (warm: all guide-cache hits) | {len(gc['epoch2_steps_s'])} | {gc['epoch2_mean_s']:.3f} | {128 / gc['epoch2_mean_s']:.1f} |",
            "",
            f"Speed-up epoch 1 ÷ epoch 2 step time: **{gc['ratio_epoch1_over_epoch2']:.2f}×** (without epoch 1's warm-up step: {gc['ratio_excl_first']:.2f}×). "
            f"Ember's report: `{gc.get('stderr_line') or 'n/a'}`. Peak RSS {g['peak_rss_mb']:.0f} MB.", ""]
notes = [f"- `{c}` {impl}: {r['status']}" + (f" — {r['reason']}" if r.get("reason") else "")
         for (c, impl), r in sorted(runs.items()) if r.get("status") != "ok"]
notes += [f"- `{c}` {impl}: attempt {a['attempt']} rejected as contended (foreign CPU {a['foreign_cpu_mean']} cores, {a['pairs_per_s']} pairs/s)"
          for (c, impl), r in sorted(runs.items()) for a in r.get("all_attempts", [])
          if a.get("foreign_cpu_mean") is not None and a["foreign_cpu_mean"] > 0.25]
if notes:
    out += ["## Notes", ""] + notes + [""]
out += ["## Load during the measurements", "",
        "Load before = /proc/loadavg when the run started; our own previous run keeps the 1-minute value near 2 on",
        "this 2-core machine, so the gate also reads the CPUs' busy cores over 3 s (busy before). Foreign CPU =",
        "cores used by processes outside the measured one, sampled every 2 s during the run.", "",
        "| configuration | impl | load before (1/5/15 min) | busy before (cores) | waited (s) | foreign CPU mean / max (cores) | attempts | wall (s) | step times (s) |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
for c in order:
    for impl in ("ember", "st"):
        r = runs.get((c, impl))
        if not r: continue
        lb = "/".join(f"{x:.2f}" for x in r.get("load_before", []))
        fc = r.get("foreign_cpu") or {}
        steps = ", ".join(f"{x:.2f}" for x in (r.get("steps_s") or []))
        out.append(f"| {c} | {impl} | {lb} | {fmt(r.get('busy_cores_before'), 2)} | {r.get('waited_s', 0)} | {fmt(fc.get('mean'), 2)} / {fmt(fc.get('max'), 2)} | {r.get('attempts', 1)} | {fmt(r.get('wall_s'))} | {steps} |")
out.append("")
open(os.path.join(res, "TRAINING.md"), "w").write("\n".join(out))
print(os.path.join(res, "TRAINING.md"))
PY
}
export MATRIX

if [ "${1:-}" = "--table" ]; then write_table; exit 0; fi
if [ "${1:-}" = "--list" ]; then echo "$MATRIX" | sed '/^$/d'; exit 0; fi

MODEL="${MODEL:-$("$root/scripts/fetch-model.sh")}"
WORK="$(mktemp -d /tmp/bench_train.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# --- the Ember binary: wait while it is missing or being rebuilt, then run a private copy (another
# engineer may rebuild .build/release/ember while the matrix runs; the JSON records the copy's hash) -
EMBER_SHA=""
snapshot_ember() {  # once per invocation: every Ember measurement of a run uses the same binary
    [ -n "$EMBER_SHA" ] && return
    local tries=0
    while :; do
        if [ -x "$EMBER_BIN" ] && [ $(( $(date +%s) - $(stat -c %Y "$EMBER_BIN") )) -gt 20 ] \
            && "$EMBER_BIN" train --help >/dev/null 2>&1; then
            cp "$EMBER_BIN" "$WORK/ember" && break
        fi
        tries=$((tries + 1)); [ $tries -gt 40 ] && { log "no usable $EMBER_BIN after 20 min"; exit 1; }
        log "waiting for $EMBER_BIN (missing or being rebuilt)"; sleep 30
    done
    EMBER_SHA="$(sha256sum "$WORK/ember" | cut -c1-16)"
    EMBER_MTIME="$(date -r "$EMBER_BIN" -Iseconds)"
}

cpu_busy_cores() {  # mean busy CPUs over $1 seconds (whole machine)
    python3 - "$1" <<'PY'
import sys, time
def busy():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f)); return sum(v) - v[3] - v[4]
a = busy(); time.sleep(float(sys.argv[1])); b = busy()
import os
print(f"{(b - a) / os.sysconf('SC_CLK_TCK') / float(sys.argv[1]):.2f}")
PY
}

# --- wait for a quiet machine ----------------------------------------------------------------------
gate() {
    WAITED=0
    while :; do
        read -r L1 L5 L15 _ < /proc/loadavg
        BUSY_NOW="$(cpu_busy_cores 3)"
        if python3 -c "import sys; sys.exit(0 if ($L1 <= $LOAD_MAX or $BUSY_NOW < 0.3) else 1)"; then break; fi
        if [ "$WAITED" -ge "$WAIT_MAX_S" ]; then log "load still $L1 (busy now $BUSY_NOW cores) after ${WAITED}s; measuring anyway"; break; fi
        log "load $L1, busy now $BUSY_NOW cores > quiet; sleeping 30 s"
        sleep 30; WAITED=$((WAITED + 30))
    done
    LOAD_BEFORE="[$L1, $L5, $L15]"
}

# --- run one command under /usr/bin/time with a foreign-CPU sampler -------------------------------
# run_measured OUTPREFIX cmd...  → OUTPREFIX.{stdout,stderr,rss,mon,rc}
run_measured() {
    local p="$1"; shift
    local t0; t0=$(date +%s.%N)
    /usr/bin/time -f %M -o "$p.rss" "$@" >"$p.stdout" 2>"$p.stderr" &
    local pid=$!
    python3 - "$pid" "$p.mon" <<'PY' &
import os, sys, time, json
root = int(sys.argv[1]); hz = os.sysconf("SC_CLK_TCK")
def busy():
    v = list(map(int, open("/proc/stat").readline().split()[1:])); return sum(v) - v[3] - v[4]
def tree_ticks():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                s = open(f"/proc/{d}/stat").read(); f = s[s.rfind(")") + 2:].split()
                kids.setdefault(int(f[1]), []).append((int(d), int(f[11]) + int(f[12])))
            except OSError:
                pass
    tot, stack = 0, [root]
    while stack:
        for pid, t in kids.get(stack.pop(), []):
            tot += t; stack.append(pid)
    try:
        s = open(f"/proc/{root}/stat").read(); f = s[s.rfind(")") + 2:].split(); tot += int(f[11]) + int(f[12])
    except OSError:
        pass
    return tot
samples, loads = [], []
b0, m0 = busy(), tree_ticks(); t0 = time.time()
while os.path.exists(f"/proc/{root}"):
    time.sleep(2)
    b1, m1 = busy(), tree_ticks(); t1 = time.time()
    if not os.path.exists(f"/proc/{root}"): break
    own = max(0, m1 - m0)
    samples.append(round(max(0.0, (b1 - b0 - own) / hz / (t1 - t0)), 3))
    loads.append(float(open("/proc/loadavg").read().split()[0]))
    b0, m0, t0 = b1, m1, t1
json.dump({"foreign": samples, "load1": loads}, open(sys.argv[2], "w"))
PY
    local mon=$!
    wait "$pid"; echo $? >"$p.rc"
    wait "$mon" 2>/dev/null
    WALL=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
}

# --- one Ember measurement --------------------------------------------------------------------------
ember_once() {  # cfg loss batch mini mat timed → $WORK/e.json
    local cfg="$1" loss="$2" B="$3" mini="$4" mat="$5" timed="$6" data="$DATA" extra=()
    local out="$WORK/out-$cfg"; rm -rf "$out"
    [ "$mini" != "-" ] && extra+=(--mini-batch-size "$mini")
    [ "$loss" = "gist" ] && extra+=(--loss gist --guide "$MODEL")
    [ "$mat" = "1" ] && extra+=(--matryoshka-dims "$MATRYOSHKA_DIMS")
    [ "$EMBER_PRECISION" != "fp32" ] && extra+=(--precision "$EMBER_PRECISION")
    local steps=(--max-steps $((timed + 1)))
    if [ "$cfg" = "i4-guidecache" ]; then
        head -n 512 "$DATA" >"$WORK/pairs512.jsonl"; data="$WORK/pairs512.jsonl"; steps=(--epochs 2)
    fi
    local cmd=("$WORK/ember" train --model "$MODEL" --data "$data" --output "$out" "${steps[@]}" --batch-size "$B" "${extra[@]}")
    gate
    log "ember $cfg: ${cmd[*]}"
    run_measured "$WORK/e" "${cmd[@]}"
    export CMD_STR; CMD_STR="$(printf '%q ' "${cmd[@]}" | sed "s#$WORK/ember#.build/release/ember#; s#$WORK/#\$TMP/#g; s#$MODEL#\$M#g")"
    python3 - "$WORK/e" "$out/metrics.jsonl" <<PY
import json, sys, os, statistics as st
p, metrics = sys.argv[1], sys.argv[2]
rc = int(open(p + ".rc").read().strip())
rss = open(p + ".rss").read().split()
rss_kb = int(rss[-1]) if rss and rss[-1].isdigit() else None
err = open(p + ".stderr", errors="replace").read()
mon = json.load(open(p + ".mon")) if os.path.exists(p + ".mon") else {"foreign": [], "load1": []}
B = $B
r = {"config": "$cfg", "impl": "ember", "loss": "$loss", "st_loss": "$(echo "$MATRIX" | awk -v c="$cfg" '$1==c{print $4}')",
     "batch_size": B, "mini_batch_size": None if "$mini" == "-" else int("$mini"),
     "matryoshka_dims": "$MATRYOSHKA_DIMS" if "$mat" == "1" else None, "guide": "$loss" == "gist" and "\$M" or None,
     "precision": "$EMBER_PRECISION", "command": os.environ["CMD_STR"].strip(), "exit_code": rc, "wall_s": $WALL,
     "peak_rss_mb": round(rss_kb / 1024, 1) if rss_kb else None,
     "load_before": $LOAD_BEFORE, "busy_cores_before": $BUSY_NOW, "waited_s": $WAITED,
     "load1_during": mon["load1"], "foreign_cpu": {"mean": round(st.mean(mon["foreign"]), 3) if mon["foreign"] else None,
                                                   "max": max(mon["foreign"]) if mon["foreign"] else None, "samples": mon["foreign"]},
     "ember_binary_sha256_16": "$EMBER_SHA", "ember_binary_mtime": "$EMBER_MTIME"}
rows = [json.loads(l) for l in open(metrics)] if os.path.exists(metrics) else []
if rc != 0 or not rows:
    r["status"] = "oom" if rc in (137, -9) or "Killed" in err else "failed"
    r["stderr_tail"] = err[-2000:]
else:
    r["status"] = "ok"
    t = [B / m["pairs_per_s"] for m in rows]
    r["all_steps_s"] = [round(x, 3) for x in t]
    r["logged_pairs_per_s"] = [m["pairs_per_s"] for m in rows]
    if "$cfg" == "i4-guidecache":
        import math
        e1 = [B / m["pairs_per_s"] for m in rows if math.ceil(m["epoch"] - 1e-9) <= 1]
        e2 = [B / m["pairs_per_s"] for m in rows if math.ceil(m["epoch"] - 1e-9) == 2]
        line = next((l for l in err.splitlines() if l.startswith("guide cache:")), None)
        r["guide_cache"] = {"epoch1_steps_s": [round(x, 3) for x in e1], "epoch2_steps_s": [round(x, 3) for x in e2],
                            "epoch1_mean_s": st.mean(e1), "epoch1_mean_excl_first_s": st.mean(e1[1:]),
                            "epoch2_mean_s": st.mean(e2), "ratio_epoch1_over_epoch2": st.mean(e1) / st.mean(e2),
                            "ratio_excl_first": st.mean(e1[1:]) / st.mean(e2), "stderr_line": line}
        timed = t[1:]
    else:
        timed = t[1:]
    r["warmup_s"] = round(t[0], 3)
    r["steps_s"] = [round(x, 3) for x in timed]
    r["pairs_per_s"] = round(B / st.mean(timed), 2)
    if all("gflop" in m for m in rows):   # useful GFLOP per step (forward + backward, no replay), Ember ≥ #10
        r["gflop_per_step"] = round(st.mean(m["gflop"] for m in rows[1:]), 2)
        r["tokens_per_step"] = round(st.mean(m["tokens"] for m in rows[1:]), 1)
        r["gflops_per_s"] = round(sum(m["gflop"] for m in rows[1:]) / sum(timed), 1)
    r["pairs_per_s_mean_of_steps"] = round(st.mean(B / x for x in timed), 2)
    r["step_cv"] = round(st.pstdev(timed) / st.mean(timed), 3)
r["contended"] = bool(r["foreign_cpu"]["mean"] is not None and r["foreign_cpu"]["mean"] > $CONTENDED_CORES)
json.dump(r, open("$WORK/e.json", "w"), indent=1)
PY
}

# --- one sentence-transformers measurement ----------------------------------------------------------
st_once() {  # cfg stloss batch mini timed → $WORK/e.json
    local cfg="$1" stloss="$2" B="$3" mini="$4" timed="$5" extra=()
    local warm="${REF_WARMUP:-}"; [ -z "$warm" ] && { [ "$B" -lt 512 ] && warm=2 || warm=1; }
    [ "$mini" != "-" ] && extra+=(--mini-batch-size "$mini")
    case "$stloss" in *gist*) extra+=(--guide "$MODEL");; esac
    local cmd=("$PY" bench/train_reference.py --data "$DATA" --loss "$stloss" --batch-size "$B" --steps "$timed" --warmup "$warm" "${extra[@]}")
    gate
    log "st $cfg: ${cmd[*]}"
    local limit=()
    [ "${ST_TIMEOUT_S:-0}" != 0 ] && limit=(timeout "$ST_TIMEOUT_S")
    run_measured "$WORK/e" "${limit[@]}" "${cmd[@]}"
    export CMD_STR; CMD_STR="$(printf '%q ' "${cmd[@]}" | sed "s#$root/##g; s#$MODEL#\$M#g")"
    python3 - "$WORK/e" <<PY
import json, sys, os, statistics as st
p = sys.argv[1]
rc = int(open(p + ".rc").read().strip())
rss = open(p + ".rss").read().split()
rss_kb = int(rss[-1]) if rss and rss[-1].isdigit() else None
err = open(p + ".stderr", errors="replace").read()
outl = [l for l in open(p + ".stdout") if l.startswith("{")]
mon = json.load(open(p + ".mon")) if os.path.exists(p + ".mon") else {"foreign": [], "load1": []}
B = $B
r = {"config": "$cfg", "impl": "st", "st_loss": "$stloss", "batch_size": B,
     "mini_batch_size": None if "$mini" == "-" else int("$mini"),
     "command": os.environ["CMD_STR"].strip(), "exit_code": rc, "wall_s": $WALL,
     "peak_rss_mb": round(rss_kb / 1024, 1) if rss_kb else None,
     "load_before": $LOAD_BEFORE, "busy_cores_before": $BUSY_NOW, "waited_s": $WAITED,
     "load1_during": mon["load1"], "foreign_cpu": {"mean": round(st.mean(mon["foreign"]), 3) if mon["foreign"] else None,
                                                   "max": max(mon["foreign"]) if mon["foreign"] else None, "samples": mon["foreign"]}}
if rc != 0 or not outl:
    r["status"] = ("timeout" if rc == 124 else
                   "oom" if rc in (137, -9) or "Killed" in err or "MemoryError" in err or "out of memory" in err.lower() else "failed")
    r["stderr_tail"] = err[-2000:]
else:
    j = json.loads(outl[-1]); r["status"] = "ok"; r["reference"] = j
    r["steps_s"] = j["steps_s"]; r["warmup_s"] = j.get("warmup_s")
    r["pairs_per_s"] = j["pairs_per_s"]
    r["pairs_per_s_mean_of_steps"] = round(st.mean(B / x for x in j["steps_s"]), 2)
    r["step_cv"] = round(st.pstdev(j["steps_s"]) / st.mean(j["steps_s"]), 3)
    r["peak_rss_mb_self"] = j["peak_rss_mb"]
r["contended"] = bool(r["foreign_cpu"]["mean"] is not None and r["foreign_cpu"]["mean"] > $CONTENDED_CORES)
json.dump(r, open("$WORK/e.json", "w"), indent=1)
PY
}

machine_info() {
    python3 - <<'PY'
import os
m = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 1024 / 1024
print(f"{os.cpu_count()} × {m}, {mem:.0f} GB RAM")
PY
}
MACHINE="$(machine_info)"

# measure cfg impl: retries while contended, keeps the least contended attempt
measure() {
    local cfg="$1" impl="$2" loss="$3" stloss="$4" B="$5" mini="$6" mat="$7"
    local dest="$RESULTS/$cfg.$impl.json"
    if [ -f "$dest" ] && [ "$FORCE" != "1" ]; then log "skip $cfg $impl (exists: $dest)"; return; fi
    local timed
    if [ "$B" -ge 1024 ]; then timed=2; elif [ "$B" -ge 512 ]; then timed=3; elif [ "$impl" = ember ]; then timed=5; else timed=3; fi
    local attempt=0 best="" bestf=999
    rm -f "$WORK/attempts.jsonl"
    while :; do
        attempt=$((attempt + 1))
        if [ "$impl" = ember ]; then snapshot_ember; ember_once "$cfg" "$loss" "$B" "$mini" "$mat" "$timed"
        else st_once "$cfg" "$stloss" "$B" "$mini" "$timed"; fi
        local f; f=$(python3 -c "import json; r=json.load(open('$WORK/e.json')); m=r['foreign_cpu']['mean']; print(m if m is not None else 0)")
        local s; s=$(python3 -c "import json; print(json.load(open('$WORK/e.json'))['status'])")
        log "$cfg $impl: status $s, foreign load $f cores, $(python3 -c "import json; r=json.load(open('$WORK/e.json')); print(r.get('pairs_per_s'), 'pairs/s,', r.get('peak_rss_mb'), 'MB')")"
        python3 -c "import json; r=json.load(open('$WORK/e.json')); print(json.dumps({'attempt': $attempt, 'status': r['status'], 'pairs_per_s': r.get('pairs_per_s'), 'peak_rss_mb': r.get('peak_rss_mb'), 'foreign_cpu_mean': r['foreign_cpu']['mean']}))" >>"$WORK/attempts.jsonl"
        if python3 -c "import sys; sys.exit(0 if $f < $bestf else 1)"; then bestf=$f; cp "$WORK/e.json" "$WORK/best.json"; fi
        if [ "$s" != ok ] || python3 -c "import sys; sys.exit(0 if $f <= $CONTENDED_CORES else 1)" || [ $attempt -gt "$RETRIES" ]; then break; fi
        log "$cfg $impl was contended (foreign $f cores); retrying"
    done
    python3 - "$WORK/best.json" "$dest" "$attempt" "$MACHINE" <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1])); r["attempts"] = int(sys.argv[3]); r["machine"] = sys.argv[4]
r["all_attempts"] = [json.loads(l) for l in open(sys.argv[1].replace("best.json", "attempts.jsonl"))]
r["finished_at"] = datetime.datetime.now().isoformat(timespec="seconds")
json.dump(r, open(sys.argv[2], "w"), indent=1)
PY
    log "wrote $dest"
}

want=("$@")
echo "$MATRIX" | sed '/^$/d' >"$WORK/matrix"
while read -r cfg issue loss stloss B mini mat impls; do
    if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $cfg " ]]; then continue; fi
    for impl in $IMPLS; do
        case ",$impls," in
            *",$impl,"*) ;;
            *",st2048,"*) [ "$impl" = st ] && [ "$ST_2048" = 1 ] || continue ;;
            *) continue ;;
        esac
        measure "$cfg" "$impl" "$loss" "$stloss" "$B" "$mini" "$mat" </dev/null
    done
done <"$WORK/matrix"
write_table
