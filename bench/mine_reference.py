#!/usr/bin/env python3
"""sentence-transformers' `mine_hard_negatives` on a pairs file: the reference side of bench/mine.sh.

    /work/main/.venv-reference/bin/python bench/mine_reference.py --model $M \
        --data pairs.jsonl --out mined.st.jsonl [--use-faiss]

Settings default to the NV-Retriever recipe the issue names, the same ones bench/mine.sh passes to
`ember mine`: relative_margin 0.05, sampling_strategy "top", num_negatives 10, range_max derived by the
reference unless --range-max is given, output_format "n-tuple", batch_size 32 (the default of both
`ember mine --batch-size` and mine_hard_negatives). torch (and faiss) use --threads threads (2: the
benchmark machine's cores, and what Ember uses there).

Writes the mined rows to --out as JSON lines with the columns in dataset order (anchor, positive,
negative_1 … negative_N), the layout `ember mine` writes, so bench/mine_table.py can compare rows.
The reference's own statistics go to stderr as it prints them. The last stdout line is one JSON
object: wall time of the mine_hard_negatives call alone (model loading and writing excluded), rows
in/out, versions.
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="sentence-transformers model folder")
    ap.add_argument("--data", required=True, help="pairs .jsonl: anchor and positive, first two keys")
    ap.add_argument("--out", required=True, help="mined rows .jsonl")
    ap.add_argument("--num-negatives", type=int, default=10)
    ap.add_argument("--relative-margin", type=float, default=0.05)
    ap.add_argument("--sampling", default="top", choices=["top", "random"])
    ap.add_argument("--range-max", type=int, default=None, help="default: derived by the reference")
    ap.add_argument("--output-format", default="n-tuple")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--use-faiss", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    # Thread counts before torch/faiss start their pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    import datasets
    import sentence_transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives
    faiss_version = None
    if args.use_faiss:
        import faiss
        faiss.omp_set_num_threads(args.threads)
        faiss_version = faiss.__version__

    # Read the file directly (not datasets.load_dataset): no Arrow cache in ~/.cache, and the column
    # order is the file's key order, as `ember mine` reads it.
    with open(args.data, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    columns = list(rows[0].keys())[:2]
    dataset = datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in columns})

    model = SentenceTransformer(args.model, device="cpu")

    t0 = time.perf_counter()
    mined = mine_hard_negatives(
        dataset, model,
        anchor_column_name=columns[0], positive_column_name=columns[1],
        range_max=args.range_max, relative_margin=args.relative_margin,
        num_negatives=args.num_negatives, sampling_strategy=args.sampling,
        output_format=args.output_format, batch_size=args.batch_size,
        use_faiss=args.use_faiss, verbose=True)
    mine_s = time.perf_counter() - t0
    print(f"mine_hard_negatives took {mine_s:.1f} s (use_faiss={args.use_faiss})", file=sys.stderr)

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for row in mined:
            f.write(json.dumps({c: row[c] for c in mined.column_names}, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)

    import resource
    print(json.dumps({
        "mine_s": round(mine_s, 3), "rows_in": len(dataset), "rows_out": len(mined),
        "columns": mined.column_names, "use_faiss": args.use_faiss, "threads": args.threads,
        "batch_size": args.batch_size, "range_max": args.range_max,
        "peak_rss_mb_self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "versions": {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__,
                     "datasets": datasets.__version__, "faiss": faiss_version},
    }))


if __name__ == "__main__":
    main()
