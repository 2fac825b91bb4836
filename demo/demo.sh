#!/usr/bin/env bash
# `make demo`: encode a few sentences with all-MiniLM-L6-v2 and print each one's nearest neighbour.
set -euo pipefail
ember="$1"; model="$2"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cat > "$work/sentences.txt" <<'TEXT'
A man is playing a guitar on stage.
Someone performs music with a string instrument.
The new movie is awesome.
The film was really great, I loved it.
How do I reset my password?
I forgot my login credentials and cannot sign in.
The cat sits outside on the mat.
A kitten is resting on a rug in the garden.
Stock markets fell sharply after the announcement.
Shares dropped a lot when the news came out.
TEXT
echo "== ember encode: $(wc -l < "$work/sentences.txt") sentences with $(basename "$(dirname "$model")")"
"$ember" encode --model "$model" --input "$work/sentences.txt" --output "$work/embeddings.jsonl"
python3 - "$work/sentences.txt" "$work/embeddings.jsonl" <<'PY'
import json, sys
texts = open(sys.argv[1], encoding="utf-8").read().splitlines()
vecs = [json.loads(line) for line in open(sys.argv[2])]
print(f"== nearest neighbours (cosine; embeddings are {len(vecs[0])}-d, unit length)")
for i, (t, v) in enumerate(zip(texts, vecs)):
    sims = [(sum(a * b for a, b in zip(v, w)), j) for j, w in enumerate(vecs) if j != i]
    s, j = max(sims)
    print(f"{s:5.3f}  {t}\n       -> {texts[j]}")
PY
