#!/usr/bin/env python3
"""bench/perf.sh's table: reads bench/results/perf/*.json, writes PERF.md there and replaces the table
between `<!-- perf-table -->` and `<!-- /perf-table -->` in README.md (argv[2])."""
import json, os, sys

res, readme = sys.argv[1], sys.argv[2]


def load(name):
    p = os.path.join(res, name)
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return None


sgemm = load("sgemm.json") or {}
ceiling = sgemm.get("ceiling_gflops")


def pct(g):
    return f"{g:.0f} ({100 * g / ceiling:.0f}%)" if g and ceiling else "–"


def ratio(a, b):
    return f"**{a / b:.2f}×**" if a and b else "–"


def mb(x):
    return f"{x:,.0f} MB" if x else "–"


rows = []
labels = {"texts": "encode `bench/texts.txt` (4,000 texts, 26 tokens avg.), batch 32",
          "chat": "encode the demo's 1,826 short chat texts (14 tokens avg.), batch 32"}
for w in ("texts", "chat"):
    e, s = load(f"encode-{w}.ember.json"), load(f"encode-{w}.st.json")
    if not e:
        continue
    rows.append([labels[w], f"{e['sentences_per_s']:,.1f} texts/s", f"{s['sentences_per_s']:,.1f} texts/s" if s else "–",
                 ratio(e["sentences_per_s"], s and s["sentences_per_s"]), mb(e.get("peak_rss_mb")), mb(s and s.get("peak_rss_mb")),
                 pct(e.get("gflops_per_s"))])
    h = load(f"encode-{w}.ember-bf16.json")
    if h:
        rows.append([labels[w].replace(", batch 32", ", batch 32, Ember `--precision bf16`"), f"{h['sentences_per_s']:,.1f} texts/s",
                     f"{s['sentences_per_s']:,.1f} texts/s" if s else "–", ratio(h["sentences_per_s"], s and s["sentences_per_s"]),
                     mb(h.get("peak_rss_mb")), mb(s and s.get("peak_rss_mb")), f"{h['gflops_per_s']:.0f} (bf16)"])
train = [("i3-mnrl-32", "MNRL, batch 32"), ("i3-cmnrl-128", "cached MNRL, batch 128, mini-batch 32"),
         ("i4-mcgist-128", "Matryoshka(cached GIST), batch 128, mini-batch 32"),
         ("i3-cmnrl-256", "cached MNRL, batch 256, mini-batch 32"),
         ("i3-cmnrl-2048", "cached MNRL, batch 2048, mini-batch 32")]
for cfg, label in train:
    e, s = load(f"{cfg}.ember.json"), load(f"{cfg}.st.json")
    if not e or e.get("status") != "ok":
        continue
    sp = s["pairs_per_s"] if s and s.get("status") == "ok" else None
    rows.append([label, f"{e['pairs_per_s']:.1f} pairs/s", f"{sp:.1f} pairs/s" if sp else "–", ratio(e["pairs_per_s"], sp),
                 mb(e.get("peak_rss_mb")), mb(s and s.get("peak_rss_mb")), pct(e.get("gflops_per_s"))])
    h = load(f"bf16/{cfg}.ember.json")
    if h and h.get("status") == "ok":
        rows.append([label + ", Ember `--precision bf16`", f"{h['pairs_per_s']:.1f} pairs/s", f"{sp:.1f} pairs/s" if sp else "–",
                     ratio(h["pairs_per_s"], sp), mb(h.get("peak_rss_mb")), mb(s and s.get("peak_rss_mb")),
                     f"{h['gflops_per_s']:.0f} (bf16)" if h.get("gflops_per_s") else "–"])
s = load("e2e.st.json")
for name, suffix in (("ember", ""), ("ember-bf16", ", Ember `--precision bf16`")):
    e = load(f"e2e.{name}.json")
    if e:
        rows.append(["fine-tuning end to end: Matryoshka(cached GIST), batch 64 / 16, 2 epochs, 847 demo pairs — "
                     "Ember's whole process vs the reference's `train()`" + suffix, f"{e['wall_s']:.1f} s", f"{s['train_s']:.1f} s" if s else "–",
                     ratio(s and s["train_s"], e["wall_s"]), mb(e.get("peak_rss_mb")), mb(s and s.get("peak_rss_mb")), "–"])

loads = []
names = sorted(os.listdir(res)) + (["bf16/" + n for n in sorted(os.listdir(os.path.join(res, "bf16")))]
                                   if os.path.isdir(os.path.join(res, "bf16")) else [])
for name in names:
    r = load(name) if name.endswith(".json") else None
    if r and isinstance(r, dict):
        fc = (r.get("foreign_cpu") or {}).get("mean")
        lb = r.get("load_before")
        loads.append(f"{name[:-5]}: load before {lb}" + (f", foreign CPU {fc:.2f} cores" if fc is not None else ""))

table = ["| workload | Ember | sentence-transformers | ratio | Ember peak RSS | ST peak RSS | Ember GFLOP/s (of ceiling) |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"] + ["| " + " | ".join(r) + " |" for r in rows]
head = (f"Ceiling: `ember bench sgemm`, the step's fp32 products on {sgemm.get('cores', '?')} cores: "
        f"**{ceiling} GFLOP/s** (one product per core; OpenBLAS's own threads {sgemm.get('openblas_threads_gflops')}, "
        f"one thread {sgemm.get('one_thread_gflops')}; kernels {sgemm.get('blas_core')}).")
md = ["# Performance: Ember vs sentence-transformers (bench/perf.sh)", "", head, ""] + table + \
     ["", "## Load", ""] + [f"- {l}" for l in loads] + [""]
open(os.path.join(res, "PERF.md"), "w").write("\n".join(md))
text = open(readme, encoding="utf-8").read()
a, b = "<!-- perf-table -->", "<!-- /perf-table -->"
if a in text and b in text:
    i, j = text.index(a) + len(a), text.index(b)
    text = text[:i] + "\n" + head + "\n\n" + "\n".join(table) + "\n" + text[j:]
    open(readme, "w", encoding="utf-8").write(text)
print("\n".join([head, ""] + table))
