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

With --ember PATH it also checks (no fixture) that a folder trained by `ember train --prompts` saves prompts
sentence-transformers reads back: SentenceTransformer(OUT).prompts holds them and
encode(texts, prompt_name="anchor") equals `ember encode --prompt-name anchor` (max |diff| <= 1e-6).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
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


def check_trained(ember: str, tiny: Path) -> None:
    prompts = {"anchor": PROMPT, "positive": "the text: "}
    with tempfile.TemporaryDirectory() as tmp:
        pairs, probes, out, emb = (Path(tmp) / n for n in ("pairs.jsonl", "probes.txt", "run", "e.jsonl"))
        pairs.write_text("".join(json.dumps({"anchor": a, "positive": b}) + "\n" for a, b in zip(TEXTS, reversed(TEXTS))))
        probes.write_text("\n".join(TEXTS) + "\n")
        subprocess.run([ember, "train", "--model", str(tiny), "--data", str(pairs), "--output", str(out), "--batch-size", "2",
                        "--max-steps", "2", "--lr", "1e-3", "--prompts", json.dumps(prompts)], check=True, capture_output=True)
        subprocess.run([ember, "encode", "--model", str(out), "--input", str(probes), "--output", str(emb),
                        "--prompt-name", "anchor"], check=True, capture_output=True)
        model = SentenceTransformer(str(out), device="cpu")
        assert all(model.prompts.get(k) == v for k, v in prompts.items()), model.prompts
        ours = [json.loads(line) for line in emb.read_text().splitlines()]
        theirs = model.encode(TEXTS, prompt_name="anchor").tolist()
        diff = max(abs(x - y) for a, b in zip(ours, theirs) for x, y in zip(a, b))
        assert diff <= 1e-6, diff
        print(f"trained folder: prompts read back {model.prompts}; encode(prompt_name='anchor') max |diff| {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ember", help="an ember executable: also check a folder trained with --prompts")
    args = parser.parse_args()
    tiny = Path(find_tiny_dir())
    if args.ember:
        check_trained(args.ember, tiny)
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
