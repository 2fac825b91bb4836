#!/usr/bin/env python3
"""MultipleNegativesRankingLoss reference cases computed by the real library, for the options the shared
loss_vectors.json does not cover: dot similarity, query_to_query / doc_to_doc added to query_to_doc, per-direction
partitioning combined with every hardness mode, the symmetric preset with hard negatives, and the configurations
sentence-transformers rejects.

Run with the reference venv (parity/setup_reference_venv.sh; the versions are recorded in the output via
parity/reference_env.py — sentence-transformers 6.2.0, torch CPU):

    PY=$(bash parity/setup_reference_venv.sh | tail -1)
    flock /tmp/ember-heavy.lock "$PY" parity/make_mnrl_cases.py

Writes Tests/Fixtures/mnrl_reference_cases.json, checked by Tests/EmberLossesTests/MNRLReferenceCaseTests.swift.

Method (as ../shared/reference/reference_vectors.py): float64 embeddings from a closed form (`emb`, the same formula
with the batch size B and dimension D as parameters) are fed as leaf tensors to
`MultipleNegativesRankingLoss(model, **options).compute_loss_from_embeddings(columns, None)`; `loss.backward()`
gives d(loss)/d(column) for every column. The inputs are stored in the JSON too, so a test needs no formula.

Per case: name, options (constructor keyword arguments as ST names them; `similarity_fct` is the function's name
in sentence_transformers.util: "cos_sim" or "dot_score"), config (the loss's get_config_dict()), B, D, ncols,
columns [ncols][B][D], then either loss + grads [ncols][B][D] (+ warnings ST logged at construction), or
rejected: true + error (the ValueError text) for configurations the constructor refuses.
"""
from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "Fixtures" / "mnrl_reference_cases.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import find_tiny_dir, versions  # noqa: E402

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, util  # noqa: E402
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss  # noqa: E402

torch.set_default_dtype(torch.float64)
FORMULA = ("base[i][j]=sin(1+0.7i+1.3j)+0.5cos(0.3ij); noise_c[i][j]=sin(2.1c+0.37ij+0.9j); "
           "e0=base (anchors); e1=base+0.6*noise_1 (positives); e_c(c>=2)=0.5*base+noise_c (hard negatives)")


def emb(c: int, n: int, d: int) -> torch.Tensor:
    """reference_vectors.py's closed form (kind 0) for column c, n rows, d dimensions."""
    def base(i, j):
        return math.sin(1 + 0.7 * i + 1.3 * j) + 0.5 * math.cos(0.3 * i * j)

    def noise(i, j):
        return math.sin(2.1 * c + 0.37 * i * j + 0.9 * j)

    if c == 0:
        f = base
    elif c == 1:
        def f(i, j):
            return base(i, j) + 0.6 * noise(i, j)
    else:
        def f(i, j):
            return 0.5 * base(i, j) + noise(i, j)
    return torch.tensor([[f(i, j) for j in range(d)] for i in range(n)], dtype=torch.float64)


ALL4 = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
SYM = ("query_to_doc", "doc_to_query")
DOT = util.dot_score
COS = util.cos_sim

# (name, options, ncols, B, D)
CASES = [
    # (1) dot similarity, scale 1, with hard negatives
    ("dot_scale1_triplets", dict(scale=1.0, similarity_fct=DOT), 3, 4, 8),
    ("dot_scale1_2neg_B5_D6", dict(scale=1.0, similarity_fct=DOT), 4, 5, 6),
    ("dot_scale1_pairs", dict(scale=1.0, similarity_fct=DOT), 2, 4, 8),
    ("dot_scale2_gte_all4_joint_triplets", dict(scale=2.0, similarity_fct=DOT, directions=ALL4), 3, 4, 8),
    ("dot_scale1_symmetric_per_direction_all_negatives_a5",
     dict(scale=1.0, similarity_fct=DOT, directions=SYM, partition_mode="per_direction",
          hardness_mode="all_negatives", hardness_strength=5.0), 3, 4, 8),
    # (2)/(3) query_to_query / doc_to_doc: ST requires query_to_doc, so alone they are rejected ...
    ("q2q_alone_rejected", dict(directions=("query_to_query",)), 3, 4, 8),
    ("d2d_alone_rejected", dict(directions=("doc_to_doc",)), 3, 4, 8),
    ("q2q_d2d_without_q2d_rejected", dict(directions=("query_to_query", "doc_to_doc")), 3, 4, 8),
    # ... and they are computed together with query_to_doc (joint; per_direction is rejected, below)
    ("q2d_q2q_joint_triplets", dict(directions=("query_to_doc", "query_to_query")), 3, 4, 8),
    ("q2d_q2q_joint_pairs", dict(directions=("query_to_doc", "query_to_query")), 2, 4, 8),
    ("q2d_d2d_joint_triplets", dict(directions=("query_to_doc", "doc_to_doc")), 3, 4, 8),
    ("q2d_d2d_joint_2neg_B5_D6", dict(directions=("query_to_doc", "doc_to_doc")), 4, 5, 6),
    ("q2d_d2q_d2d_joint_2neg_B5_D6", dict(directions=("query_to_doc", "doc_to_query", "doc_to_doc")), 4, 5, 6),
    ("directions_given_out_of_order_d2d_q2d", dict(directions=("doc_to_doc", "query_to_doc")), 3, 4, 8),
    # (4) all four directions + per_direction: rejected by ST (PR #3677); the same options joint are computed
    ("all4_per_direction_in_batch_negatives_a5_rejected",
     dict(directions=ALL4, partition_mode="per_direction", hardness_mode="in_batch_negatives", hardness_strength=5.0), 3, 4, 8),
    ("q2d_q2q_per_direction_rejected", dict(directions=("query_to_doc", "query_to_query"), partition_mode="per_direction"), 3, 4, 8),
    ("q2d_d2d_per_direction_rejected", dict(directions=("query_to_doc", "doc_to_doc"), partition_mode="per_direction"), 3, 4, 8),
    ("all4_joint_in_batch_negatives_a5_triplets",
     dict(directions=ALL4, partition_mode="joint", hardness_mode="in_batch_negatives", hardness_strength=5.0), 3, 4, 8),
    ("all4_joint_hard_negatives_a5_2neg_B5_D6",
     dict(directions=ALL4, partition_mode="joint", hardness_mode="hard_negatives", hardness_strength=5.0), 4, 5, 6),
    ("all4_joint_all_negatives_a5_triplets",
     dict(directions=ALL4, partition_mode="joint", hardness_mode="all_negatives", hardness_strength=5.0), 3, 4, 8),
    # (4)/(5) per_direction with every hardness mode (the directions per_direction allows)
    ("symmetric_per_direction_in_batch_negatives_a5_triplets",
     dict(directions=SYM, partition_mode="per_direction", hardness_mode="in_batch_negatives", hardness_strength=5.0), 3, 4, 8),
    ("symmetric_per_direction_hard_negatives_a5_triplets",
     dict(directions=SYM, partition_mode="per_direction", hardness_mode="hard_negatives", hardness_strength=5.0), 3, 4, 8),
    ("symmetric_per_direction_all_negatives_a5_triplets",
     dict(directions=SYM, partition_mode="per_direction", hardness_mode="all_negatives", hardness_strength=5.0), 3, 4, 8),
    ("symmetric_per_direction_hard_negatives_a5_2neg_B5_D6",
     dict(directions=SYM, partition_mode="per_direction", hardness_mode="hard_negatives", hardness_strength=5.0), 4, 5, 6),
    ("symmetric_per_direction_all_negatives_a5_2neg_B5_D6",
     dict(directions=SYM, partition_mode="per_direction", hardness_mode="all_negatives", hardness_strength=5.0), 4, 5, 6),
    ("q2d_per_direction_hard_negatives_a5_triplets",
     dict(partition_mode="per_direction", hardness_mode="hard_negatives", hardness_strength=5.0), 3, 4, 8),
    ("q2d_per_direction_in_batch_negatives_a5_pairs",
     dict(partition_mode="per_direction", hardness_mode="in_batch_negatives", hardness_strength=5.0), 2, 4, 8),
    ("symmetric_per_direction_hard_negatives_a0_warns",
     dict(directions=SYM, partition_mode="per_direction", hardness_mode="hard_negatives", hardness_strength=0.0), 3, 4, 8),
    # (6) symmetric (query_to_doc + doc_to_query, per_direction) == MultipleNegativesSymmetricRankingLoss
    ("symmetric_per_direction_pairs", dict(directions=SYM, partition_mode="per_direction"), 2, 4, 8),
    ("symmetric_per_direction_triplets", dict(directions=SYM, partition_mode="per_direction"), 3, 4, 8),
    ("symmetric_per_direction_2neg_B5_D6_scale50", dict(scale=50.0, directions=SYM, partition_mode="per_direction"), 4, 5, 6),
    ("symmetric_per_direction_dot_scale1_triplets",
     dict(scale=1.0, similarity_fct=DOT, directions=SYM, partition_mode="per_direction"), 3, 4, 8),
]


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(record.getMessage())


def options_json(options: dict) -> dict:
    out = dict(options)
    if "similarity_fct" in out:
        out["similarity_fct"] = out["similarity_fct"].__name__
    if "directions" in out:
        out["directions"] = list(out["directions"])
    return out


def main() -> None:
    model = SentenceTransformer(str(find_tiny_dir()), device="cpu")  # the loss only stores it
    capture = Capture()
    logging.getLogger("sentence_transformers").addHandler(capture)
    cases = []
    for name, options, ncols, B, D in CASES:
        columns = [emb(c, B, D) for c in range(ncols)]
        entry = {"name": name, "options": options_json(options), "B": B, "D": D, "ncols": ncols,
                 "columns": [c.tolist() for c in columns]}
        capture.records.clear()
        try:
            loss_fn = MultipleNegativesRankingLoss(model, **options)
        except ValueError as error:
            assert name.endswith("_rejected"), (name, error)
            entry.update(rejected=True, error=str(error))
            print(f"{name:58s} rejected: {error}", file=sys.stderr)
            cases.append(entry)
            continue
        assert not name.endswith("_rejected"), name
        config = loss_fn.get_config_dict()
        config["directions"] = list(config["directions"])
        leaves = [c.clone().requires_grad_() for c in columns]
        loss = loss_fn.compute_loss_from_embeddings(leaves, None)
        loss.backward()
        entry.update(rejected=False, config=config, loss=loss.item(), grads=[c.grad.tolist() for c in leaves],
                     warnings=list(capture.records))
        print(f"{name:58s} loss={loss.item(): .15f}  max|grad|={max(c.grad.abs().max().item() for c in leaves):.3e}"
              + (f"  warnings={capture.records}" if capture.records else ""), file=sys.stderr)
        cases.append(entry)

    # Consistency checks between cases (the library against itself).
    by = {c["name"]: c for c in cases}
    assert by["directions_given_out_of_order_d2d_q2d"]["loss"] == by["q2d_d2d_joint_triplets"]["loss"]
    assert abs(by["symmetric_per_direction_hard_negatives_a0_warns"]["loss"] - by["symmetric_per_direction_triplets"]["loss"]) < 1e-15
    assert by["symmetric_per_direction_hard_negatives_a0_warns"]["warnings"], "strength 0 should warn"

    out = {"meta": {"versions": versions(), "generator": "parity/make_mnrl_cases.py", "dtype": "float64",
                    "call": "MultipleNegativesRankingLoss(model, **options).compute_loss_from_embeddings(columns, None); "
                            "loss.backward(); grads = [column.grad]",
                    "formula": FORMULA},
           "cases": cases}
    # One line per case (readable diffs, modest size); floats are Python's shortest round-trip repr.
    lines = ['{"meta": ' + json.dumps(out["meta"], indent=1) + ',', '"cases": [']
    lines += [json.dumps(c, separators=(",", ":")) + ("," if k + 1 < len(cases) else "") for k, c in enumerate(cases)]
    lines += ["]}"]
    OUT.write_text("\n".join(lines) + "\n")
    assert json.loads(OUT.read_text()) == json.loads(json.dumps(out))
    print("wrote", OUT, f"({len(cases)} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
