"""Selection-level parity fixtures for `ember mine` (Sources/EmberMining/SEMANTICS.md §9.2-9.3, tier a).

Runs sentence-transformers' real `mine_hard_negatives` with a stub model that returns fixed, seeded
vectors per text (so Ember can be fed the very same embeddings and any difference is a difference of
selection, not of encoding), over hand-built data with duplicate anchors, an exact duplicate row, a
positive shared by two anchors, an anchor that is also a corpus text, and a corpus that overlaps the
positives and repeats itself. Records per case: the arguments, the output rows and the printed summary.

Run in the reference venv (parity/setup_reference_venv.sh):
    .venv-reference/bin/python parity/make_mining_fixtures.py  # writes Tests/Fixtures/mining_reference.json
"""
import contextlib
import io
import json
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from datasets import Dataset
from sentence_transformers.util import cos_sim, pairwise_cos_sim
from sentence_transformers.util.hard_negatives import mine_hard_negatives

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import versions  # noqa: E402

DIM = 16
TOPICS = 6


class FixedVectorModel:
    """What mine_hard_negatives uses of a SentenceTransformer, with a fixed vector per text."""

    def __init__(self, vectors):
        self.vectors = vectors
        self.device = torch.device("cpu")
        self.model_card_data = SimpleNamespace(base_model="fixed-vectors")

    def encode(self, texts, **kwargs):
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)

    encode_query = encode
    encode_document = encode

    def similarity(self, a, b):
        return cos_sim(a, b)

    def similarity_pairwise(self, a, b):
        return pairwise_cos_sim(a, b)


def build():
    rng = np.random.default_rng(2026)
    centers = rng.normal(size=(TOPICS, DIM))
    texts = {}

    def text(name, topic, spread):
        v = centers[topic] + spread * rng.normal(size=DIM)
        texts[name] = (v / np.linalg.norm(v)).astype(np.float32)
        return name

    rows = []
    for t in range(TOPICS):
        for i in range(4):
            rows.append((text(f"question {t}.{i}", t, 0.9), text(f"answer {t}.{i}", t, 0.9)))
    rows.append(("question 0.0", text("answer 0.0 (second)", 0, 0.9)))  # duplicate anchor, new positive
    rows.append(("question 1.1", text("answer 1.1 (second)", 1, 0.9)))
    rows.append(("question 2.0", "answer 2.0"))  # exact duplicate row
    rows.append((text("question 3.x", 3, 0.9), "answer 3.0"))  # positive shared by two anchors
    corpus = [text(f"document {t}.{j}", t, 1.2) for t in range(TOPICS) for j in range(3)]
    corpus += ["document 0.0", "answer 5.0", "question 4.1"]  # internal duplicate, a positive, an anchor
    small = rows[:4]
    return texts, rows, corpus, small


CASES = [
    ("defaults", "main", False, {}),
    ("defaults with corpus", "main", True, {}),
    ("relative margin n-tuple scores", "main", True,
     {"relative_margin": 0.05, "num_negatives": 3, "output_format": "n-tuple", "output_scores": True}),
    ("absolute margin 0.1", "main", True, {"absolute_margin": 0.1}),
    ("absolute margin 0", "main", True, {"absolute_margin": 0.0}),
    ("absolute margin -0.05", "main", False, {"absolute_margin": -0.05}),
    ("window with max_score", "main", True, {"range_min": 2, "range_max": 8, "max_score": 0.8, "num_negatives": 3}),
    ("min_score alone", "main", True, {"min_score": 0.2}),
    ("include positives", "main", False, {"include_positives": True, "output_format": "triplet"}),
    ("window equals N", "main", True, {"num_negatives": 2, "range_max": 2}),
    ("range_max beyond a tiny corpus", "small", False, {"range_max": 10, "num_negatives": 3}),
    ("relative margin tiny corpus labeled-pair", "small", False, {"relative_margin": 0.1, "output_format": "labeled-pair"}),
    # Filters strict enough that rows are dropped (and the "missing" line printed).
    ("strict absolute margin n-tuple", "main", True, {"absolute_margin": 0.2, "range_max": 6, "output_format": "n-tuple"}),
    ("strict max_score labeled-list", "main", True,
     {"max_score": 0.3, "range_min": 1, "range_max": 5, "output_format": "labeled-list"}),
    ("strict relative margin labeled-pair", "main", False,
     {"relative_margin": 0.3, "range_max": 4, "output_format": "labeled-pair", "output_scores": True}),
    ("strict min_score triplet", "main", True, {"min_score": 0.5, "max_score": 0.7, "num_negatives": 4}),
]
# Random sampling: the reference draws from the global `random` module, seeded here per case (the
# case's "seed"); `ember mine --seed S` must give the same rows. A window wider than 21 with N <= 5
# takes CPython sample's rejection path, a narrow one its pool path; "small" has anchors with fewer
# valid candidates than N.
RANDOM_CASES = [
    ("random relative margin", "main", True, {"sampling_strategy": "random", "relative_margin": 0.05, "num_negatives": 3}, 42),
    ("random relative margin, seed 7", "main", True, {"sampling_strategy": "random", "relative_margin": 0.05, "num_negatives": 3}, 7),
    ("random window n-tuple", "main", True,
     {"sampling_strategy": "random", "range_min": 1, "range_max": 6, "num_negatives": 3, "output_format": "n-tuple"}, 42),
    ("random wide window (rejection path)", "main", True, {"sampling_strategy": "random", "range_max": 30, "num_negatives": 3}, 11),
    ("random 8 of 30 labeled-list", "main", False,
     {"sampling_strategy": "random", "range_max": 30, "num_negatives": 8, "output_format": "labeled-list"}, 5),
    ("random tiny corpus", "small", False, {"sampling_strategy": "random", "range_max": 10, "num_negatives": 3}, 3),
]
for fmt in ("triplet", "n-tuple", "labeled-pair", "labeled-list"):
    for scores in (False, True):
        CASES.append((f"{fmt} scores={scores}", "main", True,
                      {"output_format": fmt, "output_scores": scores, "num_negatives": 3, "relative_margin": 0.02}))


def main():
    texts, rows, corpus, small = build()
    model = FixedVectorModel(texts)
    datasets = {"main": rows, "small": small}
    cases = []
    for name, data, with_corpus, kwargs, seed in [c + (42,) for c in CASES] + RANDOM_CASES:
        pairs = datasets[data]
        dataset = Dataset.from_dict({"query": [a for a, _ in pairs], "passage": [p for _, p in pairs]})
        out = io.StringIO()
        random.seed(seed)
        with contextlib.redirect_stdout(out):
            result = mine_hard_negatives(dataset, model, corpus=corpus if with_corpus else None, verbose=True, **kwargs)
        case = {"name": name, "data": data, "corpus": with_corpus, "kwargs": kwargs,
                "columns": result.column_names, "rows": result.to_list(), "stdout": out.getvalue().splitlines()}
        if kwargs.get("sampling_strategy") == "random":
            case["seed"] = seed
        cases.append(case)
    fixture = {
        "versions": versions(extra=("datasets",)),
        "generator": "parity/make_mining_fixtures.py",
        "vectors": {t: [float(x) for x in v] for t, v in texts.items()},
        "datasets": {k: [list(p) for p in v] for k, v in datasets.items()},
        "corpus": corpus,
        "cases": cases,
    }
    path = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "mining_reference.json"
    path.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    print(path)


if __name__ == "__main__":
    main()
