#!/usr/bin/env bash
# `make demo`: fine-tune all-MiniLM-L6-v2 on real retrieval data and show what it gained, at every
# Matryoshka dimension, on a held-out split it never trained on.
#
#   demo/demo.sh EMBER MODEL_DIR      (the Makefile passes .build/release/ember and scripts/fetch-model.sh's folder)
#
# 1. evaluate the base model on demo/data/heldout at dims 384,256,128,64,32   -> .demo/before.json
# 2. mine one hard negative per training pair with the base model (ember mine, the NV-Retriever
#    recipe: relative margin 0.05, top; a deep rank window, 200, since this data's positives score
#    low; pairs without a valid negative are dropped, as the reference drops them) -> .demo/mined.jsonl
# 3. fine-tune it on the mined triplets: cached GIST (guide = the base model, frozen) inside
#    Matryoshka (384..32), with GradCache                                       -> .demo/model/
# 4. evaluate the fine-tuned model the same way                                 -> .demo/after.json
# 5. print the before/after table.
# The data comes from the PyPI package chatterbot-corpus (demo/data/SOURCE.md); demo/prepare_data.py
# rebuilds it. Nothing is tuned or selected on the held-out split: the recipe below was chosen on a
# validation split carved out of the training pairs (demo/README.md).
set -euo pipefail
ember="$1"; model="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/demo/data"; held="$data/heldout"; out="$root/.demo"
dims=384,256,128,64,32

# The recipe (demo/README.md says why).
batch=128; mini_batch=32; epochs=4; lr=2e-4
margin=0.05; negatives=1; window=200

start=$SECONDS
if [ ! -f "$data/train.jsonl" ] || [ ! -f "$held/queries.jsonl" ] || [ ! -f "$held/corpus.jsonl" ] || [ ! -f "$held/qrels.jsonl" ]; then
    echo "== preparing the demo data (demo/prepare_data.py)"
    python3 "$root/demo/prepare_data.py"
fi
rows=$(wc -l < "$data/train.jsonl")
mkdir -p "$out"
eval_args=(--queries "$held/queries.jsonl" --corpus "$held/corpus.jsonl" --qrels "$held/qrels.jsonl")
echo "== data: $rows training pairs; held out: $(wc -l < "$held/queries.jsonl") queries against $(wc -l < "$held/corpus.jsonl") passages (demo/data/SOURCE.md)"

echo "== 1/4 evaluate $(basename "$(dirname "$model")") on the held-out split"
"$ember" evaluate --model "$model" "${eval_args[@]}" --truncate-dims "$dims" --output "$out/before.json" --overwrite

echo "== 2/4 mine $negatives hard negative per pair with the base model (relative margin $margin, top, rank window $window)"
"$ember" mine --model "$model" --data "$data/train.jsonl" --output "$out/mined.jsonl" --overwrite \
    --relative-margin "$margin" --num-negatives "$negatives" --range-max "$window" --output-format n-tuple
mined=$(wc -l < "$out/mined.jsonl")

# ~5 evaluation points for the report's curves (held-out split: shown, never used to pick a model).
steps=$(( (mined + batch - 1) / batch * epochs ))
every=$(( steps / 4 > 0 ? steps / 4 : 1 ))
echo "== 3/4 fine-tune on $mined mined triplets: GIST (guide: the base model, frozen) in Matryoshka ($dims), GradCache; $epochs epochs, batch $batch, lr $lr"
"$ember" train --model "$model" --data "$out/mined.jsonl" --output "$out/model" --overwrite \
    --loss gist --guide "$model" --matryoshka-dims "$dims" \
    --batch-size "$batch" --mini-batch-size "$mini_batch" --epochs "$epochs" --lr "$lr" \
    --eval-queries "$held/queries.jsonl" --eval-corpus "$held/corpus.jsonl" --eval-qrels "$held/qrels.jsonl" \
    --eval-steps "$every"

echo "== 4/4 evaluate the fine-tuned model"
"$ember" evaluate --model "$out/model" "${eval_args[@]}" --truncate-dims "$dims" --output "$out/after.json" --overwrite

python3 - "$out/before.json" "$out/after.json" "$dims" <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
dims = sys.argv[3].split(",")
metrics = ["ndcg@10", "mrr@10", "recall@10"]
print()
print("held-out retrieval, base -> fine-tuned (change)")
print("  dim  " + "".join(f"{m:>25}" for m in metrics))
for d in dims:
    cells = [f"{before[d][m]:.3f} -> {after[d][m]:.3f} ({after[d][m] - before[d][m]:+.3f})" for m in metrics]
    print(f"{d:>5}  " + "".join(f"{c:>25}" for c in cells))
worse = [d for d in dims if after[d]["ndcg@10"] <= before[d]["ndcg@10"]]
if worse:
    print(f"note: ndcg@10 did not improve at dim(s) {', '.join(worse)}")
PY
echo
echo "wall time (evaluate, mine, fine-tune, evaluate): $(( SECONDS - start )) s"
echo "results: .demo/before.json, .demo/after.json; mined triplets: .demo/mined.jsonl; fine-tuned model: .demo/model/"
for f in report.html README.md; do
    [ -f "$out/model/$f" ] && echo "  see .demo/model/$f"
done
exit 0
