#!/usr/bin/env python3
"""Model folders in the on-disk layout of sentence-transformers >= 5.4 / 6.x (spec §10.4), written by the
library's own `SentenceTransformer.save()`, plus the legacy v2-v5.3 spelling, with what the library makes of them.

Run with the reference venv (parity/setup_reference_venv.sh; versions pinned there and recorded in the output
by parity/reference_env.py: sentence-transformers 6.2.0, transformers 5.23.0, tokenizers 0.23.3, torch CPU):

    PY=$(bash parity/setup_reference_venv.sh | tail -1)
    flock /tmp/ember-heavy.lock "$PY" parity/make_layout_fixtures.py

Source model: the tiny random BERT at ../shared/reference/tiny-bert (2 layers, hidden 32, vocab.txt of 45 lines,
legacy layout, max_seq_length 16). It is loaded with ST 6.2, its pipeline rebuilt with the wanted Pooling /
Normalize modules (same Transformer module, same weights), and saved with `model.save(folder)`.

Writes Tests/Fixtures/layouts/<folder>/ and Tests/Fixtures/layouts/expected.json:

  st6-mean/                 mean pooling + Normalize, max_seq_length 32, as ST 6.2 saves it (keeps README.md,
                            the model card, because a loader must ignore it; it is removed everywhere else)
  st6-cls/                  pooling_mode "cls", NO Normalize module (2-entry modules.json)
  st6-weightedmean/         pooling_mode "weightedmean" + Normalize
  st6-lasttoken/            pooling_mode "lasttoken" + Normalize
  st6-tokenizer-json-only/  st6-mean without vocab.txt. NOTE: with transformers 5 ST's save() writes no vocab.txt
                            at all (only tokenizer.json + tokenizer_config.json), so this is byte-identical to
                            st6-mean minus README.md; kept under this name so tests can say what they mean
  st6-with-vocab/           st6-mean plus the source vocab.txt (what ST >= 5.4 writes under transformers 4.x:
                            both files)
  st6-maxlen16/             st6-mean with model.max_seq_length = 16 before saving
  legacy-mean/              copy of ../shared/reference/tiny-bert (v2-v5.3 spelling: sentence_transformers.models.*,
                            legacy sentence_bert_config.json {"max_seq_length": 16}, pooling_mode_* booleans,
                            vocab.txt only; its 2_Normalize/ is absent because it was an empty directory)

The st6 folders other than st6-maxlen16 use max_seq_length 32 (the source says 16) so that st6-maxlen16 differs
from them; ST 6.x stores it as tokenizer_config.json "model_max_length" (sentence_bert_config.json no longer has it).

expected.json, per folder: files, modules (type strings of modules.json), pooling_mode (ST's spelling; a list if
several), embedding_dimension, normalize, max_seq_length, loaded_without_warnings + the warnings seen while
loading the folder, tokenizer class, and for the fixed `texts`:
  token_ids[i]   = the input_ids of model.preprocess([texts[i]]) (unpadded, truncated to max_seq_length)
  embeddings[i]  = SentenceTransformer(folder, device="cpu").encode(texts, batch_size=8,
                     normalize_embeddings=False)  -- float32 output written as exact float64 numbers; unit vectors
                     iff the folder has a Normalize module
  embeddings_float64[i] = the same pipeline with the model cast to float64 (model.double()), for tight checks
Every folder is reloaded from disk before anything is recorded, and its pooled vectors are cross-checked against a
by-hand pooling of the Transformer module's token embeddings.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "Fixtures" / "layouts"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import find_tiny_dir, versions  # noqa: E402

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling  # noqa: E402

# Words of the tiny vocabulary (vocab.txt): [PAD] [UNK] [CLS] [SEP] [MASK] a..z anchor positive negative the a is
# of and to in short text ##s ##ing. Anything else is [UNK]; "texts" -> text ##s, "shorting" -> short ##ing.
TEXTS = [
    "the anchor text",
    "A short POSITIVE!",                                   # upper case (tokenizer lower-cases), "!" -> [UNK]
    "negative of the anchor and the positive texts",       # "texts" -> text ##s
    "Hello, world: shorting z y x",                        # unknown words -> [UNK]; "shorting" -> short ##ing
    "a",                                                   # shortest: [CLS] a [SEP]
    # long: 44 word pieces, truncated to 14 (+[CLS],[SEP]) at max_seq_length 16 and 30 at 32
    "the anchor and the positive text is short and the negative text is not short in a b c d e f g h i j "
    "k l m n o p q r s t u v w x y z the end",
]


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def capture_warnings():
    """Every logging record >= WARNING (any logger) and every warnings.warn while the block runs."""
    handler = Capture()
    # transformers' library logger does not propagate to the root logger: attach to it (and its peers) directly.
    loggers = [logging.getLogger(n) for n in ("transformers", "sentence_transformers", "huggingface_hub", "tokenizers")]
    loggers += [logging.getLogger()]
    for lg in loggers:
        lg.addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield handler.records
        finally:
            for lg in loggers:
                lg.removeHandler(handler)
            handler.records.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    # A record seen by several loggers' handlers is the same record: keep each message once, in order.
    unique = list(dict.fromkeys(handler.records))
    handler.records[:] = unique


def self_check_capture(source: Path) -> list[str]:
    """The warning capture must see ST's warning for a folder whose config_sentence_transformers.json claims a
    newer library version. (A folder without modules.json is only logged at INFO level by ST 6.2.)"""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(source, Path(tmp) / "m")
        cfg_path = Path(tmp) / "m" / "config_sentence_transformers.json"
        os.chmod(cfg_path, 0o644)
        cfg = json.loads(cfg_path.read_text())
        cfg["__version__"]["sentence_transformers"] = "99.0.0"
        cfg_path.write_text(json.dumps(cfg))
        _, seen = load(Path(tmp) / "m")
    assert seen, "warning capture saw nothing for a folder claiming sentence-transformers 99.0.0"
    return seen


def load(folder: Path):
    with capture_warnings() as seen:
        model = SentenceTransformer(str(folder), device="cpu")
    return model, list(seen)


def build(source: Path, pooling_mode, normalize: bool, max_seq_length: int) -> SentenceTransformer:
    base = SentenceTransformer(str(source), device="cpu")
    transformer = base[0]
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling_mode)]
    if normalize:
        modules.append(Normalize())
    model = SentenceTransformer(modules=modules, device="cpu")
    model.max_seq_length = max_seq_length
    return model


def by_hand(model: SentenceTransformer, texts: list[str]) -> torch.Tensor:
    """Pooling (+ Normalize) recomputed from the Transformer module's token embeddings, one text at a time."""
    pooling = next(m for m in model if isinstance(m, Pooling))
    modes = [pooling.pooling_mode] if isinstance(pooling.pooling_mode, str) else list(pooling.pooling_mode)
    out = []
    for text in texts:
        feats = model.preprocess([text])
        with torch.no_grad():
            tok = model[0](dict(feats))["token_embeddings"][0].double()  # [T, H], no padding (single text)
        parts = []
        for mode in modes:
            if mode == "mean":
                parts.append(tok.mean(0))
            elif mode == "cls":
                parts.append(tok[0])
            elif mode == "lasttoken":
                parts.append(tok[-1])
            elif mode == "weightedmean":
                w = torch.arange(1, tok.shape[0] + 1, dtype=torch.float64).unsqueeze(1)
                parts.append((tok * w).sum(0) / w.sum())
            else:
                raise ValueError(mode)
        v = torch.cat(parts)
        if any(isinstance(m, Normalize) for m in model):
            v = torch.nn.functional.normalize(v, dim=0)
        out.append(v)
    return torch.stack(out)


def record(name: str, folder: Path, note: str) -> dict:
    model, seen = load(folder)
    modules_json = json.loads((folder / "modules.json").read_text())
    pooling = next(m for m in model if isinstance(m, Pooling))
    normalize = any(isinstance(m, Normalize) for m in model)
    token_ids = [model.preprocess([t])["input_ids"][0].tolist() for t in TEXTS]
    # The tokenizer called directly agrees with the pipeline's preprocessing.
    for t, ids in zip(TEXTS, token_ids):
        assert model.tokenizer(t, truncation=True, max_length=model.max_seq_length)["input_ids"] == ids, (name, t)
    emb = model.encode(TEXTS, batch_size=8, normalize_embeddings=False, convert_to_numpy=True)
    hand = by_hand(model, TEXTS)
    diff_hand = (torch.from_numpy(emb).double() - hand).abs().max().item()
    assert diff_hand < 1e-5, (name, diff_hand)
    model64 = model.double()
    emb64 = model64.encode(TEXTS, batch_size=8, normalize_embeddings=False, convert_to_tensor=True).double()
    diff64 = (emb64 - torch.from_numpy(emb).double()).abs().max().item()
    assert diff64 < 1e-5, (name, diff64)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    entry = {
        "folder": name,
        "note": note,
        "files": files,
        "modules": [m["type"] for m in modules_json],
        "pooling_mode": pooling.pooling_mode if isinstance(pooling.pooling_mode, str) else list(pooling.pooling_mode),
        "embedding_dimension": model.get_embedding_dimension(),
        "normalize": normalize,
        "max_seq_length": model.max_seq_length,
        "tokenizer_class": type(model.tokenizer).__name__,
        "loaded_without_warnings": not seen,
        "load_warnings": seen,
        "token_ids": token_ids,
        "embeddings": emb.astype("float64").tolist(),
        "embeddings_float64": emb64.tolist(),
        "check_max_abs_diff_by_hand_pooling": diff_hand,
        "check_max_abs_diff_float64_vs_float32": diff64,
    }
    print(f"{name:26s} pooling={entry['pooling_mode']!s:13s} normalize={normalize!s:5s} "
          f"max_seq_length={model.max_seq_length} dim={entry['embedding_dimension']} tokenizer={entry['tokenizer_class']} "
          f"warnings={len(seen)} |by hand|={diff_hand:.1e} |f64-f32|={diff64:.1e}", file=sys.stderr)
    for w in seen:
        print(f"    warning: {w}", file=sys.stderr)
    return entry


def main() -> None:
    source = find_tiny_dir()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    logging.getLogger("sentence_transformers").setLevel(logging.INFO)

    def save(model, name, keep_readme=False):
        folder = OUT / name
        model.save(str(folder))
        if not keep_readme:
            (folder / "README.md").unlink(missing_ok=True)
        return folder

    probe = self_check_capture(source)
    print(f"capture self-check (folder claiming ST 99.0.0): {probe}", file=sys.stderr)
    entries = []
    st6 = [("st6-mean", "mean", True, 32, True, "mean pooling + Normalize, as ST 6.2 save() writes it (README.md kept)"),
           ("st6-cls", "cls", False, 32, False, "CLS pooling, no Normalize module"),
           ("st6-weightedmean", "weightedmean", True, 32, False, "weighted-mean pooling (weights 1..T by position) + Normalize"),
           ("st6-lasttoken", "lasttoken", True, 32, False, "last-token pooling ([SEP] for BERT) + Normalize"),
           ("st6-maxlen16", "mean", True, 16, False, "st6-mean with max_seq_length 16 set before saving")]
    for name, mode, normalize, max_len, keep_readme, note in st6:
        folder = save(build(source, mode, normalize, max_len), name, keep_readme)
        assert not (folder / "vocab.txt").exists() or name == "st6-with-vocab"
        entries.append(record(name, folder, note))

    # tokenizer.json only (ST 6.2 + transformers 5 never write vocab.txt; make sure anyway).
    folder = OUT / "st6-tokenizer-json-only"
    shutil.copytree(OUT / "st6-mean", folder)
    (folder / "README.md").unlink(missing_ok=True)
    (folder / "vocab.txt").unlink(missing_ok=True)
    entries.append(record(folder.name, folder, "st6-mean without vocab.txt (only tokenizer.json); ST 6.2 writes no "
                                               "vocab.txt, so this equals st6-mean minus README.md"))

    folder = OUT / "st6-with-vocab"
    shutil.copytree(OUT / "st6-tokenizer-json-only", folder)
    shutil.copy(source / "vocab.txt", folder / "vocab.txt")
    entries.append(record(folder.name, folder, "st6-mean plus vocab.txt beside tokenizer.json (as ST >= 5.4 writes "
                                               "under transformers 4.x)"))

    folder = OUT / "legacy-mean"
    shutil.copytree(source, folder)
    entries.append(record(folder.name, folder, "copy of shared/reference/tiny-bert: v2-v5.3 spelling; 2_Normalize/ "
                                               "is absent (empty directory) and ST still adds Normalize"))

    for p in [OUT, *OUT.rglob("*")]:  # the source is read-only; save() writes model.safetensors 0600
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    out = {
        "versions": versions(),
        "source_model": "shared/reference/tiny-bert",
        "generator": "parity/make_layout_fixtures.py",
        "encode_args": {"batch_size": 8, "normalize_embeddings": False, "device": "cpu"},
        "capture_self_check_warnings": probe,
        "texts": TEXTS,
        "folders": entries,
    }
    (OUT / "expected.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print("wrote", OUT / "expected.json", file=sys.stderr)


if __name__ == "__main__":
    main()
