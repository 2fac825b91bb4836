#!/usr/bin/env python3
"""Writes Tests/Fixtures/evaluate_check.json: sentence-transformers' InformationRetrievalEvaluator and
EmbeddingSimilarityEvaluator results on the tiny reference BERT, per truncation dimension, for a small
retrieval set and STS set made of tiny-bert vocabulary. The Swift test runs `ember evaluate` on the same
files and compares. Run with the reference venv: .venv-reference/bin/python parity/check_evaluator.py"""
import json
import sys
from pathlib import Path

from sentence_transformers import SentenceTransformer
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import versions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT.parent / "shared/reference/tiny-bert"
WORDS = ["the", "cat", "dog", "sat", "on", "mat", "a", "hello", "world", "is", "near", "end", "of", "it", "all",
         "ran", "fast", "over", "hill", "and", "far", "away"]


def text(i, salt, n):
    return " ".join(WORDS[(i * 5 + j * 3 + salt * 7 + i * j) % len(WORDS)] for j in range(n))


corpus = {f"d{i}": text(i, 1, 3 + i % 6) for i in range(30)}
queries = {f"q{i}": text(i, 2, 2 + i % 4) for i in range(12)}
relevant = {f"q{i}": {f"d{(i * 7) % 30}", f"d{(i * 11 + 3) % 30}"} for i in range(12)}
relevant["q0"] = {"d0"}
sts = [(text(i, 3, 3 + i % 4), text(i, 4 + i % 2, 2 + i % 5), float((i * 37) % 11) / 2) for i in range(16)]

model = SentenceTransformer(str(TINY), device="cpu")
results = {"retrieval": {}, "sts": {}}
for dim in (32, 16):
    ir = InformationRetrievalEvaluator(queries, corpus, relevant, truncate_dim=dim, name="x", show_progress_bar=False)(model)
    results["retrieval"][str(dim)] = {k.split("cosine_", 1)[1]: v for k, v in ir.items() if "cosine_" in k}
    st = EmbeddingSimilarityEvaluator([a for a, _, _ in sts], [b for _, b, _ in sts], [s for _, _, s in sts],
                                      truncate_dim=dim, name="x")(model)
    results["sts"][str(dim)] = {"pearson": st["x_pearson_cosine"], "spearman": st["x_spearman_cosine"]}

fixture = {"versions": versions(), "model": "shared/reference/tiny-bert",
           "queries": [{"id": k, "text": v} for k, v in queries.items()],
           "corpus": [{"id": k, "text": v} for k, v in corpus.items()],
           "qrels": [{"query_id": q, "corpus_id": c, "score": 1} for q, cs in relevant.items() for c in sorted(cs)],
           "sts": [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in sts],
           "expected": results}
out = ROOT / "Tests/Fixtures/evaluate_check.json"
out.write_text(json.dumps(fixture, indent=1) + "\n", encoding="utf-8")
print(json.dumps(results["retrieval"]["32"], indent=1))
print(json.dumps(results["sts"], indent=1))
