#!/usr/bin/env python3
"""Writes bench/pairs.jsonl: (anchor, positive) pairs for the training benchmarks, built deterministically
from bench/texts.txt. Anchors are short question-like prefixes (~10 tokens), positives the following
~12-15 words (~18 tokens), close to the short pairs the reference's numbers in
../shared/spec/swift-performance-notes.md were measured on (9.4 / 16.5 tokens). Texts are unique."""
import json, random
from pathlib import Path

root = Path(__file__).resolve().parent.parent
rng = random.Random(7)
rows, seen = [], set()
for line in (root / "bench/texts.txt").read_text(encoding="utf-8").splitlines():
    words = line.strip().rstrip(".").split()
    for start in (0, 10):
        if len(words) < start + 14:
            break
        n = rng.randint(5, 8)
        anchor = " ".join(words[start:start + n]) + "?"
        positive = " ".join(words[start + 3:start + 3 + rng.randint(11, 15)]) + "."
        if anchor in seen or positive in seen:
            continue
        seen.update((anchor, positive))
        rows.append({"anchor": anchor, "positive": positive})
(root / "bench/pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
print(f"{len(rows)} pairs")
