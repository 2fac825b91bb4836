"""Why `ember mine` and the reference disagree on a few rows of bench/mine.sh (its compare step counts them).

    .venv-reference/bin/python bench/mine_ties.py N EMBER MODEL_DIR

For every row whose negatives differ, the texts involved are embedded with `ember encode` and:
- order differences: the score gap of the two texts that trade places;
- set differences: each text in only one output, its score and its distance to the anchor's
  relative-margin threshold (min positive score - 5 % of its magnitude, the benchmark's setting).
Gaps of ~1e-7 are ties the two encoders (≈ 1e-6 apart) resolve differently.
"""
import json, os, subprocess, sys, tempfile
import numpy as np
n = sys.argv[1]; ember = sys.argv[2]; model = sys.argv[3]
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
tmp = tempfile.mkdtemp()
def rows(p): return [json.loads(l) for l in open(p)]
a = rows(f"{d}/mined-{n}.ember.jsonl"); b = rows(f"{d}/mined-{n}.st.jsonl")
neg = lambda r: [r[k] for k in sorted((k for k in r if k.startswith('negative_')), key=lambda k: int(k.split('_')[1]))]
diffs = [(x, y) for x, y in zip(a, b) if neg(x) != neg(y)]
assert all(x['anchor'] == y['anchor'] for x, y in zip(a, b))
texts = sorted({t for x, y in diffs for t in [x['anchor']] + neg(x) + neg(y)})
open(f'{tmp}/texts.txt', 'w').write('\n'.join(t.replace('\n', ' ') for t in texts) + '\n')
subprocess.run([ember, 'encode', '--model', model, '--input', f'{tmp}/texts.txt', '--output', f'{tmp}/e.npy', ], check=True, capture_output=True)
E = np.load(f'{tmp}/e.npy'); idx = {t: i for i, t in enumerate(texts)}
cos = lambda p, q: float(E[idx[p]] @ E[idx[q]])
gaps = []
for x, y in diffs:
    an, ne, ns = x['anchor'], neg(x), neg(y)
    if set(ne) == set(ns):
        # first position where the orders differ: the two texts swapped there
        i = next(i for i in range(len(ne)) if ne[i] != ns[i])
        gaps.append(('order', abs(cos(an, ne[i]) - cos(an, ns[i]))))
    else:
        only_e = [t for t in ne if t not in ns]; only_s = [t for t in ns if t not in ne]
        gaps.append(('set', max(abs(cos(an, p) - cos(an, q)) for p in only_e for q in only_s)))
print(f"N={n}: {len(diffs)} differing rows of {len(a)}")
for kind in ('order', 'set'):
    g = [v for k, v in gaps if k == kind]
    if g: print(f"  {kind}: {len(g)} rows, score gap of the texts that trade places: max {max(g):.2e}, median {np.median(g):.2e}")
pairs = [json.loads(l) for l in open(f"{d}/mining-pairs-{n}.jsonl")]
pos = {}
for p in pairs: pos.setdefault(p['anchor'], set()).add(p['positive'])
extra = sorted({t for x, y in diffs for t in pos[x['anchor']]} - set(idx))
if extra:
    open(f'{tmp}/t2.txt', 'w').write('\n'.join(t.replace('\n', ' ') for t in extra) + '\n')
    subprocess.run([ember, 'encode', '--model', model, '--input', f'{tmp}/t2.txt', '--output', f'{tmp}/e2.npy', ], check=True, capture_output=True)
    E = np.concatenate([E, np.load(f'{tmp}/e2.npy')]); idx.update({t: len(texts) + i for i, t in enumerate(extra)})
for x, y in diffs:
    an, ne, ns = x['anchor'], neg(x), neg(y)
    if set(ne) == set(ns): continue
    m = min(cos(an, p) for p in pos[an]); thr = m - abs(m) * 0.05
    flip = [(t, cos(an, t)) for t in ne if t not in ns] + [(t, cos(an, t)) for t in ns if t not in ne]
    print(f"  set row: threshold {thr:.7f}; only in one output: " + ", ".join(f"{'E' if t in ne else 'S'} {s:.7f} (score - thr {s - thr:+.1e})" for t, s in flip))
