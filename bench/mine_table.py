#!/usr/bin/env python3
"""The bookkeeping of bench/mine.sh: one JSON per run, the comparison of mined rows, the Markdown table.

    mine_table.py record  --out RUN.json --n N --tool ember|st|st-faiss --work PREFIX --mined FILE ...
    mine_table.py compare --results DIR --prefix P --n N       # → DIR/P-N.compare.json
    mine_table.py table   --results DIR --prefix P [--ns N…]   # Markdown on stdout

Kept out of the shell script because parsing `/usr/bin/time -v` and comparing 100k rows of JSON is
clearer in Python. Only the standard library (it runs with the system python3).
"""
import argparse
import glob
import json
import os
import re
import sys

TOOLS = ["ember", "st", "st-faiss"]
LABEL = {"ember": "ember mine", "st": "sentence-transformers (exact)", "st-faiss": "sentence-transformers (faiss)"}


def parse_time_v(path):
    """Wall clock, peak RSS, CPU times and the exit/signal line of GNU time -v."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path, errors="replace"):
        line = line.strip()
        key, _, value = line.rpartition(": ")
        if key == "Elapsed (wall clock) time (h:mm:ss or m:ss)":
            parts = [float(x) for x in value.split(":")]
            out["wall_s"] = round(sum(p * 60 ** i for i, p in enumerate(reversed(parts))), 2)
        elif key == "Maximum resident set size (kbytes)":
            out["peak_rss_mb"] = round(int(value) / 1024, 1)
        elif key == "User time (seconds)":
            out["user_s"] = float(value)
        elif key == "System time (seconds)":
            out["sys_s"] = float(value)
        elif key == "Percent of CPU this job got":
            out["cpu_percent"] = int(value.rstrip("%") or 0)
        elif line.startswith("Command terminated by signal"):
            out["signal"] = int(line.split()[-1])
        elif key == "Exit status":
            out["time_exit_status"] = int(value)
    return out


def count_lines(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def record(a):
    """One run → one JSON: what ran, how long, how much memory, what came out, what the machine was doing."""
    w = a.work
    rc = int(open(w + ".rc").read().strip()) if os.path.exists(w + ".rc") else None
    watch = json.load(open(w + ".watch")) if os.path.exists(w + ".watch") else {}
    err = open(w + ".stderr", errors="replace").read() if os.path.exists(w + ".stderr") else ""
    r = {"n": a.n, "tool": a.tool, "label": LABEL[a.tool], "command": a.command, "exit_code": rc,
         "load_before": [float(x) for x in a.load.split()[:3]], "machine": a.machine,
         "rss_limit_mb": a.rss_limit_mb, "watchdog": watch}
    r.update(parse_time_v(w + ".time"))
    if watch.get("killed"):
        r["status"] = "killed"
        r["reason"] = (f"killed at {watch['killed_at_mb'] / 1024:.1f} GB after {watch['after_s']:.0f} s "
                       f"(RSS limit {a.rss_limit_mb / 1024:.1f} GB)")
    elif rc == 0 and os.path.exists(a.mined):
        r["status"] = "ok"
    else:
        r["status"] = "failed"
    if r["status"] != "ok":
        r["stderr_tail"] = err[-3000:]
    # The mined rows are kept outside bench/results (they are large); the table's comparison reads them.
    r["mined_file"] = os.path.abspath(a.mined) if r["status"] == "ok" else None
    r["rows_in"] = count_lines(a.data)
    r["rows_out"] = count_lines(a.mined) if r["status"] == "ok" else None
    # Inner times: the reference's mine_hard_negatives call alone; Ember's encode and search lines.
    if a.tool == "ember":
        m = re.search(r"embeddings in ([\d.]+) s \(([\d.]+) texts/s\), search in ([\d.]+) s", err)
        if m:
            r["encode_s"], r["texts_per_s"], r["search_s"] = float(m.group(1)), float(m.group(2)), float(m.group(3))
            r["mine_s"] = round(r["encode_s"] + r["search_s"], 3)
        r["ember_binary_sha256_16"] = a.ember_sha or None
        r["ember_binary_mtime"] = a.ember_mtime or None
    else:
        lines = [l for l in open(w + ".stdout", errors="replace") if l.startswith("{")] if os.path.exists(w + ".stdout") else []
        if lines:
            j = json.loads(lines[-1])
            r["mine_s"] = j["mine_s"]
            r["versions"] = j["versions"]
            r["peak_rss_mb_self"] = j.get("peak_rss_mb_self")
    # The reference prints its statistics on stdout, Ember on stderr.
    out_text = open(w + ".stdout", errors="replace").read() if os.path.exists(w + ".stdout") else ""
    summary = [l for l in (err + "\n" + out_text).splitlines() if re.match(r"(Setting range_max|Found |Skipped |Could not find|Count |Mean )", l)]
    r["summary_lines"] = summary
    json.dump(r, open(a.out, "w"), indent=1)
    print(f"{a.tool} N={a.n}: {r['status']}, wall {r.get('wall_s')} s, peak RSS {r.get('peak_rss_mb')} MB, "
          f"rows out {r['rows_out']}" + (f" — {r['reason']}" if r.get("reason") else ""), file=sys.stderr)


def load_rows(path):
    """(anchor, positive) → negatives, in output order. The builder drops exact duplicate pairs, so the key
    is unique; if a file has a repeated key anyway, the later rows are counted separately."""
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            keys = list(o.keys())
            key = (o[keys[0]], o[keys[1]])
            while key in rows:
                key = key + ("dup",)
            rows[key] = [o[k] for k in keys[2:]]
    return rows


def compare_files(a_path, b_path):
    """Rows present in either file; identical = the same negatives in the same order, same set = in any order."""
    a, b = load_rows(a_path), load_rows(b_path)
    keys = set(a) | set(b)
    both = set(a) & set(b)
    identical = sum(1 for k in both if a[k] == b[k])
    same_set = sum(1 for k in both if set(a[k]) == set(b[k]))
    overlap = [len(set(a[k]) & set(b[k])) / max(len(set(a[k]) | set(b[k])), 1) for k in both]
    first_diffs = [{"anchor": k[0][:120], "a": a[k][:3], "b": b[k][:3]} for k in sorted(both) if a[k] != b[k]][:3]
    return {"rows_either": len(keys), "rows_both": len(both), "only_a": len(set(a) - set(b)),
            "only_b": len(set(b) - set(a)), "identical": identical, "same_set": same_set,
            "identical_fraction": round(identical / len(keys), 5) if keys else None,
            "same_set_fraction": round(same_set / len(keys), 5) if keys else None,
            "mean_jaccard_common_rows": round(sum(overlap) / len(overlap), 5) if overlap else None,
            "examples_of_differences": first_diffs}


def compare(a):
    runs = {t: load_run(a.results, a.prefix, a.n, t) for t in TOOLS}
    out = {"n": a.n}
    for name, x, y in (("ember_vs_st", "ember", "st"), ("faiss_vs_st", "st-faiss", "st")):
        rx, ry = runs.get(x), runs.get(y)
        if rx and ry and rx.get("mined_file") and ry.get("mined_file") \
                and os.path.exists(rx["mined_file"]) and os.path.exists(ry["mined_file"]):
            out[name] = compare_files(rx["mined_file"], ry["mined_file"])
            c = out[name]
            print(f"N={a.n} {name}: {c['identical']}/{c['rows_either']} rows with identical negatives "
                  f"({c['only_a']} rows only in {x}, {c['only_b']} only in {y})", file=sys.stderr)
        else:
            out[name] = None
    json.dump(out, open(os.path.join(a.results, f"{a.prefix}-{a.n}.compare.json"), "w"), indent=1)


def load_run(results, prefix, n, tool):
    p = os.path.join(results, f"{prefix}-{n}.{tool}.json")
    return json.load(open(p)) if os.path.exists(p) else None


def fmt(x, nd=1):
    return "–" if x is None else f"{x:,.{nd}f}"


def table(a):
    ns = sorted(a.ns) if a.ns else sorted({int(m.group(1)) for f in glob.glob(os.path.join(a.results, f"{a.prefix}-*.json"))
                 for m in [re.search(rf"{re.escape(a.prefix)}-(\d+)\.", os.path.basename(f))] if m})
    out = ["| N pairs | tool | wall s | mining s | peak RSS MB | rows out | wall ÷ ST exact | RSS ÷ ST exact | load before |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    notes, comparisons, meta = [], [], {}
    for n in ns:
        runs = {t: load_run(a.results, a.prefix, n, t) for t in TOOLS}
        ref = runs.get("st") if (runs.get("st") or {}).get("status") == "ok" else None
        for t in TOOLS:
            r = runs.get(t)
            if r is None:
                continue
            meta.setdefault("machine", r.get("machine"))
            # The faiss run's versions name faiss-cpu too; prefer them.
            if r.get("versions") and (not meta.get("versions") or r["versions"].get("faiss")):
                meta["versions"] = r["versions"]
            if r.get("ember_binary_sha256_16"):
                meta.setdefault("ember", (r["ember_binary_sha256_16"], r.get("ember_binary_mtime")))
            if t == "ember":
                meta.setdefault("command", r["command"])
            ok = r["status"] == "ok"
            wall = fmt(r.get("wall_s")) if ok else r["status"].upper()
            ratio_w = f"{r['wall_s'] / ref['wall_s']:.2f}×" if ok and ref and r.get("wall_s") and ref.get("wall_s") else "–"
            ratio_m = f"{r['peak_rss_mb'] / ref['peak_rss_mb']:.2f}×" if ok and ref and r.get("peak_rss_mb") and ref.get("peak_rss_mb") else "–"
            out.append(f"| {n:,} | {r['label']} | {wall} | {fmt(r.get('mine_s'))} | {fmt(r.get('peak_rss_mb'), 0)} | "
                       f"{'–' if r.get('rows_out') is None else format(r['rows_out'], ',')} | {ratio_w} | {ratio_m} | "
                       f"{r['load_before'][0]:.2f} |")
            if r.get("reason") or r["status"] != "ok":
                notes.append(f"- N={n:,} {r['label']}: {r['status']}" + (f" — {r['reason']}" if r.get("reason") else ""))
        c = os.path.join(a.results, f"{a.prefix}-{n}.compare.json")
        if os.path.exists(c):
            cj = json.load(open(c))
            for name, what in (("ember_vs_st", "ember vs ST exact"), ("faiss_vs_st", "ST faiss vs ST exact")):
                x = cj.get(name)
                if x:
                    comparisons.append(f"| {n:,} | {what} | {x['identical']:,} / {x['rows_either']:,} "
                                       f"({100 * x['identical_fraction']:.2f} %) | {100 * x['same_set_fraction']:.2f} % | "
                                       f"{fmt(x['mean_jaccard_common_rows'], 4)} | {x['only_a']:,} / {x['only_b']:,} |")
    lines = out + [""]
    if comparisons:
        lines += ["| N pairs | outputs compared | rows with identical negatives (same order) | same set | mean Jaccard (common rows) | rows only in first / only in second |",
                  "| ---: | --- | ---: | ---: | ---: | ---: |"] + comparisons + [""]
    if notes:
        lines += notes + [""]
    foot = []
    if meta.get("machine"):
        foot.append(f"Machine: {meta['machine']}.")
    if meta.get("ember"):
        foot.append(f"Ember binary sha256 {meta['ember'][0]}… built {meta['ember'][1]}.")
    if meta.get("versions"):
        v = meta["versions"]
        foot.append(f"Reference: sentence-transformers {v['sentence_transformers']}, torch {v['torch']}"
                    + (f", faiss-cpu {v['faiss']}" if v.get("faiss") else "") + ".")
    if meta.get("command"):
        foot.append(f"Ember's command: `{meta['command'].strip()}` (the reference: the same settings, bench/mine_reference.py).")
    lines += [" ".join(foot)] if foot else []
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    for f in ("out", "tool", "work", "mined", "data", "command", "load", "machine"):
        r.add_argument("--" + f, required=True)
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--rss-limit-mb", type=int, required=True)
    r.add_argument("--ember-sha", default="")
    r.add_argument("--ember-mtime", default="")
    c = sub.add_parser("compare")
    c.add_argument("--results", required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--n", type=int, required=True)
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--prefix", required=True)
    t.add_argument("--ns", type=int, nargs="*", help="only these N (default: every N with results)")
    a = ap.parse_args()
    {"record": record, "compare": compare, "table": table}[a.cmd](a)


if __name__ == "__main__":
    main()
