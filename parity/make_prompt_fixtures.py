#!/usr/bin/env python3
"""Prompts as sentence-transformers applies them, on the tiny BERT, for Tests/EmberModelTests/PromptParityTests.

Run with the reference venv (parity/setup_reference_venv.sh):

    PY=$(bash parity/setup_reference_venv.sh | tail -1)
    "$PY" parity/make_prompt_fixtures.py

For each pooling mode whose masking the reference's versions agree on (mean, mean_sqrt_len_tokens, weightedmean,
max), a copy of ../shared/reference/tiny-bert with 1_Pooling/config.json
{"embedding_dimension": 32, "pooling_mode": MODE, "include_prompt": false} is loaded and
model.encode(texts, prompt=PROMPT) recorded (its Normalize module makes unit vectors). Then a copy with
config_sentence_transformers.json prompts {"query": PROMPT, "document": ""} and default_prompt_name "query"
(include_prompt true) records model.encode(texts) (the default prompt applies) and
model.encode(texts, prompt_name="document"), and the prompts the library read back.

Writes Tests/Fixtures/prompt_parity.json (floats as exact float64 numbers of the float32 output).
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import find_tiny_dir, versions  # noqa: E402

from sentence_transformers import SentenceTransformer  # noqa: E402

PROMPT = "a short text: "
TEXTS = ["the cat is in the text", "anchor and positive", "negative", "A Short Text of the dog",
         "a b c d e f g h i j k l m n o p q r s t"]   # the last one is truncated at max_seq_length 16
MODES = ["mean", "mean_sqrt_len_tokens", "weightedmean", "max"]


def main() -> None:
    tiny = Path(find_tiny_dir())
    out: dict = {"versions": versions(), "prompt": PROMPT, "texts": TEXTS, "include_prompt_false": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            folder = Path(tmp) / mode
            shutil.copytree(tiny, folder)
            (folder / "1_Pooling" / "config.json").write_text(
                json.dumps({"embedding_dimension": 32, "pooling_mode": mode, "include_prompt": False}))
            model = SentenceTransformer(str(folder), device="cpu")
            assert model[1].include_prompt is False
            out["include_prompt_false"][mode] = model.encode(TEXTS, prompt=PROMPT).astype("float64").tolist()
        folder = Path(tmp) / "named"
        shutil.copytree(tiny, folder)
        (folder / "config_sentence_transformers.json").write_text(
            json.dumps({"prompts": {"query": PROMPT, "document": ""}, "default_prompt_name": "query"}))
        model = SentenceTransformer(str(folder), device="cpu")
        out["named"] = {
            "prompts": model.prompts, "default_prompt_name": model.default_prompt_name,
            "default": model.encode(TEXTS).astype("float64").tolist(),
            "document": model.encode(TEXTS, prompt_name="document").astype("float64").tolist(),
        }
    target = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "prompt_parity.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
