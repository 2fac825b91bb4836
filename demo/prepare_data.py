#!/usr/bin/env python3
"""Builds the demo's retrieval data from the PyPI package chatterbot-corpus (BSD-3-Clause).

    python3 demo/prepare_data.py            # writes demo/data/ (train.jsonl, heldout/, SOURCE.md)
    python3 demo/prepare_data.py --tuning   # also .cache/demo-data/tuning/: the training pairs split again
                                            # (train.jsonl, heldout/ = validation) for choosing a recipe

The package's English YAML files hold conversations: lists of utterances, each one answered by the next.
Every consecutive (statement, response) pair is a retrieval example: the statement is the query, its
response the passage to find among all of the corpus's responses (a retrieval chatbot's job: pick the
reply from its whole bank of replies).

The split into training and held-out data is by *group*, never by row: two pairs whose statements or
responses are the same text after normalisation (case, spacing, outer punctuation) are in one group, and so
are all the pairs of one conversation (they share utterances). Whole groups go to one side, so no held-out
query or relevant passage appears in training, not even with other casing or punctuation. Groups are
drawn per topic file with a fixed seed, so every topic is in both sides and a rerun writes byte-identical
files.

Needs python3 and PyYAML (Debian: python3-yaml); pip downloads the pinned sdist (it carries the licence
file; the wheel does not) into the git-ignored .cache/demo-data/.
"""
import hashlib
import json
import random
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

PACKAGE = "chatterbot-corpus"
VERSION = "1.3.3"
SDIST = f"chatterbot_corpus-{VERSION}.tar.gz"
SDIST_SHA256 = "615b5c4c605154f60ae51d03ed918ed92e9d32bc2b144b759bbc64ecdbe18481"
SEED = 8
HELDOUT_FRACTION = 0.25
# At most this many responses per statement ("Tell me a joke" has 30): in-batch-negative training samples
# batches with no text twice, so a statement with more responses than an epoch has batches leaves a tail of
# one-row batches that teach nothing.
MAX_RESPONSES = 4

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "demo-data"
OUT = ROOT / "demo" / "data"


def fetch_sdist() -> Path:
    path = CACHE / SDIST
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", f"{PACKAGE}=={VERSION}", "--dest", str(CACHE)],
            check=True, stdout=sys.stderr)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        sys.exit(f"error: {path} has sha256 {digest}, expected {SDIST_SHA256}")
    return path


def clean(text) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def norm(text: str) -> str:
    """The key that decides when two texts count as the same (for deduplication and grouping)."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w']+", " ", text)
    return text.strip()


class Groups:
    """Union–find over normalised texts."""

    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def grouping(pairs):
    """Union–find groups of the pairs; returns the root of each pair's group and each group's topic."""
    groups = Groups()
    for _, a, p in pairs:
        groups.union(a, p)
    root = {(a, p): groups.find(a) for _, a, p in pairs}
    group_topic = {}
    for topic, a, p in pairs:
        group_topic.setdefault(root[(a, p)], topic)
    return root, group_topic


def split(pairs, files, seed=SEED):
    """Holds out HELDOUT_FRACTION of the groups of each topic, whole. Returns (train, held) pair lists."""
    root, group_topic = grouping(pairs)
    rng = random.Random(seed)
    heldout_groups = set()
    for topic in sorted(files):
        members = sorted(g for g, t in group_topic.items() if t == topic)
        rng.shuffle(members)
        heldout_groups.update(members[:round(len(members) * HELDOUT_FRACTION)])
    train = [(a, p) for _, a, p in pairs if root[(a, p)] not in heldout_groups]
    held = [(a, p) for _, a, p in pairs if root[(a, p)] in heldout_groups]
    return train, held


def retrieval_task(train, held):
    """Corpus, queries and judgements of the held pairs (train's responses are distractors)."""
    # Corpus: every distinct response of both sides. Training responses stay in as distractors: the model
    # has seen them, the task is to rank the unseen right one above them (as a deployed bot would have to).
    passages = sorted({p for _, p in train} | {p for _, p in held})
    # Queries: distinct held-out statements that are not themselves a passage of the corpus (a middle turn
    # of a conversation is both; as a query it would find itself first).
    passage_set = set(passages)
    relevant = {}
    for a, p in held:
        if a not in passage_set:
            relevant.setdefault(a, set()).add(p)
    queries = sorted(relevant)
    # Nothing held out is in training.
    train_texts = {t for pair in train for t in pair}
    assert not (set(queries) & train_texts)
    assert not ({p for ps in relevant.values() for p in ps} & train_texts)
    return queries, passages, relevant


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_split(out, train, queries, passages, relevant, spelling, rng):
    corpus_id = {p: f"d{i:04d}" for i, p in enumerate(passages)}
    query_id = {q: f"q{i:04d}" for i, q in enumerate(queries)}
    train = list(train)
    rng.shuffle(train)  # mixes topics; ember's sampler shuffles anyway, this only makes the file readable
    write_jsonl(out / "train.jsonl", ({"anchor": spelling[a], "positive": spelling[p]} for a, p in train))
    write_jsonl(out / "heldout" / "queries.jsonl", ({"id": query_id[q], "text": spelling[q]} for q in queries))
    write_jsonl(out / "heldout" / "corpus.jsonl", ({"id": corpus_id[p], "text": spelling[p]} for p in passages))
    write_jsonl(out / "heldout" / "qrels.jsonl",
                ({"query_id": query_id[q], "corpus_id": corpus_id[p], "score": 1}
                 for q in queries for p in sorted(relevant[q], key=corpus_id.get)))


def main():
    sdist = fetch_sdist()
    prefix = f"chatterbot_corpus-{VERSION}/"
    with tarfile.open(sdist) as tar:
        licence = tar.extractfile(prefix + "license.md").read().decode("utf-8").strip()
        names = sorted(n for n in tar.getnames()
                       if n.startswith(prefix + "chatterbot_corpus/data/english/") and n.endswith(".yml"))
        files = {Path(n).stem: yaml.safe_load(tar.extractfile(n).read().decode("utf-8")) for n in names}

    # Every (statement, response) pair, deduplicated by normalised text; first spelling wins.
    pairs = []          # (topic, anchor, positive)
    seen = set()
    spelling = {}       # normalised text -> the text written out
    utterances = 0
    responses = {}      # normalised statement -> responses kept
    capped = 0
    malformed = []      # entries that are not a list of utterances (a YAML slip in the package)
    for topic, doc in files.items():
        for conversation in doc.get("conversations") or []:
            if not isinstance(conversation, list):
                malformed.append(f"{topic}: {str(conversation)[:60]}…")
                continue
            turns = [clean(t) for t in conversation if t is not None and clean(t)]
            utterances += len(turns)
            for a, p in zip(turns, turns[1:]):
                key = (norm(a), norm(p))
                if not key[0] or not key[1] or key[0] == key[1] or key in seen:
                    continue
                seen.add(key)
                responses[key[0]] = responses.get(key[0], 0) + 1
                if responses[key[0]] > MAX_RESPONSES:
                    capped += 1
                    continue
                spelling.setdefault(key[0], a)
                spelling.setdefault(key[1], p)
                pairs.append((topic, key[0], key[1]))
    raw_pairs = sum(max(0, len([t for t in c if t is not None]) - 1)
                    for d in files.values() for c in d.get("conversations") or [] if isinstance(c, list))

    train, held = split(pairs, files)
    queries, passages, relevant = retrieval_task(train, held)
    write_split(OUT, train, queries, passages, relevant, spelling, random.Random(SEED))

    if "--tuning" in sys.argv[1:]:
        # For choosing the recipe without looking at the held-out split: the training pairs split again the
        # same way (another seed) into a tuning-train part and a validation part; written to the cache.
        in_train = set(train)
        tune_train, tune_val = split([t for t in pairs if (t[1], t[2]) in in_train], files, seed=SEED + 1)
        tq, tp, tr = retrieval_task(tune_train, tune_val)
        write_split(CACHE / "tuning", tune_train, tq, tp, tr, spelling, random.Random(SEED + 1))
        print(f"tuning split: {len(tune_train)} pairs; validation {len(tq)} queries, {len(tp)} passages "
              f"-> {(CACHE / 'tuning').relative_to(ROOT)}/", file=sys.stderr)

    held_passages = {p for _, p in held}
    n_qrels = sum(len(v) for v in relevant.values())
    n_groups = len(grouping(pairs)[1])
    topics = ", ".join(sorted(files))
    source = f"""# Demo data: source and licence

Generated by `demo/prepare_data.py`; do not edit by hand (rerun the script: it writes byte-identical files).

## Source

- Package: [`{PACKAGE}`](https://pypi.org/project/{PACKAGE}/{VERSION}/) {VERSION} on PyPI, the source
  distribution `{SDIST}` (sha256 `{SDIST_SHA256}`),
  from <https://github.com/gunthercox/chatterbot-corpus> by Gunther Cox and contributors.
- Used: the English YAML files `chatterbot_corpus/data/english/*.yml` ({len(files)} topics: {topics}).
  Their text is written by people (the corpus's contributors), not generated for this demo.
- Licence: BSD-3-Clause. Its notice, copied verbatim from the package's `license.md`, is below; it applies to
  the texts in `train.jsonl` and `heldout/` (redistributed here in modified form: split into pairs,
  whitespace collapsed, deduplicated).

## What the script did

1. Read every conversation (a list of utterances, each answered by the next) and made each consecutive
   (statement, response) pair a retrieval example: {raw_pairs} pairs from {utterances} utterances.
   Skipped {len(malformed)} entry that is not a list (a YAML slip in the package: {"; ".join(malformed)}).
2. Dropped repeats: pairs whose statement and response are the same text after normalisation (lower case,
   spacing and punctuation ignored) as an earlier pair, and pairs whose two sides are the same. The
   `tech_support` topic, for one, repeats 10 problems with their answers about 100 times each. Kept at
   most {MAX_RESPONSES} responses per statement, the first in the package's order ({capped} pairs dropped,
   most of them "Tell me a joke", which has 30): training batches hold no text twice, so a statement
   with more responses than an epoch has batches leaves one-row batches that teach nothing.
   {len(pairs)} distinct pairs remained.
3. Grouped the pairs: two pairs that share a statement or a response (normalised) are in one group, and
   so are all the pairs of one conversation. {n_groups} groups.
4. Held out {HELDOUT_FRACTION:.0%} of the groups of each topic (seed {SEED}, Python's `random`), whole:
   no held-out query or relevant passage occurs in the training pairs, with any casing or punctuation.
5. Wrote:
   - `train.jsonl`: {len(train)} pairs `{{"anchor": statement, "positive": response}}` (the training groups).
   - `heldout/queries.jsonl`: {len(queries)} queries `{{"id", "text"}}`: the distinct held-out statements, less
     those that are also a response somewhere (a middle turn of a conversation; as a query it would
     retrieve itself).
   - `heldout/corpus.jsonl`: {len(passages)} passages `{{"id", "text"}}`: every distinct response of *both*
     sides. The {len(passages) - len(held_passages)} training responses are distractors: a retrieval bot ranks its whole bank
     of replies, and the fine-tuned model must put the unseen right reply above the replies it was
     trained on. Nothing is selected or tuned on this split.
   - `heldout/qrels.jsonl`: {n_qrels} judgements `{{"query_id", "corpus_id", "score": 1}}`: each held-out
     statement's responses (some statements have several, e.g. "What is AI?").

## Licence notice (from `license.md` of {PACKAGE} {VERSION})

```
{licence}
```
"""
    (OUT / "SOURCE.md").write_text(source, encoding="utf-8")
    print(f"demo data: {len(train)} training pairs; held out {len(queries)} queries, {len(passages)} passages, "
          f"{n_qrels} judgements -> {OUT.relative_to(ROOT)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
