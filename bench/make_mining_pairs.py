#!/usr/bin/env python3
"""(heading → paragraph) pairs from the HTML documentation of Debian packages, for bench/mine.sh.

    $(python3 bench/make_mining_pairs.py --apt-command)   # install the source packages (as root)
    python3 bench/make_mining_pairs.py --out all.jsonl   # every pair, document order (~3 CPU-minutes)
    python3 bench/make_mining_pairs.py --from all.jsonl --count 10000 --out pairs-10000.jsonl
    python3 bench/make_mining_pairs.py --stats           # only the counts, nothing written

Why real text: `ember mine` and sentence-transformers' `mine_hard_negatives` must be compared on a
corpus whose similarity structure looks like a real one (near-duplicate paragraphs, topical
clusters, anchors shared by several positives), which random or templated text does not have.

Anchor   = "<page title>: <section heading>" (only the page title for text directly under it), so an
           anchor is meaningful on its own ("Constraints: Check Constraints", not "Check Constraints").
Positive = one paragraph of running text under that heading (<p>, or DocBook's <div class="para">),
           whitespace-normalised, 40–1,500 characters, mostly letters. Code blocks, tables, navigation
           bars, sidebars' tables of contents, admonition titles are skipped.

Every anchor keeps at most --per-heading (default 4) paragraphs, the first ones in document order
(the opening paragraphs of a section are the most on-topic), so that long release-notes sections
cannot dominate the sample. Duplicate anchors with different positives are kept on purpose: they
are part of what mining has to handle (every positive of an anchor is excluded from its candidates).
Exact duplicate (anchor, positive) pairs are dropped, and so is a paragraph that appears under more
than MAX_ANCHORS_PER_TEXT different anchors (generated boilerplate).

Output: JSON lines {"anchor": ..., "positive": ...} (keys in this order: `ember mine` takes the first
two columns of a .jsonl file in key order; `datasets` reads the same file for the reference).
--count N takes a seeded shuffle's first N pairs (the same N and seed always give the same file,
and a smaller N is a prefix of the same shuffle). Counts (pairs available, per package) go to stderr;
--sources FILE also writes them, with the package versions, as JSON.

Only the standard library: the benchmark must not depend on an HTML package being installed.
"""
import argparse
import gzip
import html.parser
import json
import os
import random
import re
import subprocess
import sys

# Debian packages (bookworm) and which of their files are pages of running text. The file lists come
# from dpkg itself (`dpkg -L`), so the data is exactly what the package installs, and the versions
# are recorded. Install with `bench/make_mining_pairs.py --apt-command` (prints the apt-get line).
# A mix on purpose: language and library manuals (prose), reference pages (SQL, CMake, git), API
# pages generated from docstrings (pandas, SciPy, statsmodels) and books — topical clusters with
# many near neighbours, which is what makes hard-negative mining hard.
SKIP_FILES = re.compile(r"/(_sources|_static|_modules|_downloads|_images|_autosummary_templates)/"
                        r"|/(genindex[^/]*|search|py-modindex|modindex|bookindex|contents|print)\.html$")
PACKAGES = [
    ("python3.11-doc", r"^/usr/share/doc/python3\.11/html/.*\.html$"),
    ("postgresql-doc-15", r"^/usr/share/doc/postgresql-doc-15/html/[^/]+\.html$"),
    ("python-django-doc", r"^/usr/share/doc/python-django-doc/html/.*\.html$"),
    ("debian-handbook", r"^/usr/share/doc/debian-handbook/html/en-US/[^/]+\.html$"),   # English only
    ("debian-reference-en", r"^/usr/share/debian-reference/[^/]+\.en\.html$"),
    ("python-sqlalchemy-doc", r"^/usr/share/doc/python-sqlalchemy-doc/html/.*\.html$"),
    ("git-doc", r"^/usr/share/doc/git-doc/.*\.html$"),
    ("cmake-doc", r"^/usr/share/doc/cmake-data/html/.*\.html$"),
    ("sphinx-doc", r"^/usr/share/doc/sphinx-doc/html/.*\.html$"),
    ("octave-doc", r"^/usr/share/doc/octave/octave\.html/.*\.html$"),
    ("maxima-doc", r"^/usr/share/doc/maxima-doc/html/.*\.html$"),
    ("gnuplot-doc", r"^/usr/share/doc/gnuplot/htmldocs/.*\.html$"),
    ("systemtap-doc", r"^/usr/share/doc/systemtap-doc/.*\.html$"),
    # Rust: the books only. The std/core API pages are mostly rustdoc's blanket-impl boilerplate
    # ("Mutably borrows from an owned value."), and book/{first,second,2018}-edition are redirect stubs.
    ("rust-doc", r"^/usr/share/doc/rust-doc/html/(book|reference|nomicon|edition-guide|rust-by-example|"
                 r"embedded-book|rustc|rustdoc|unstable-book)/(?!(first|second|2018)-edition/).*\.html$"),
    ("python-pandas-doc", r"^/usr/share/doc/python-pandas-doc/html/.*\.html$"),
    ("python-scipy-doc", r"^/usr/share/doc/python-scipy-doc/html/.*\.html$"),
    ("python-statsmodels-doc", r"^/usr/share/doc/python-statsmodels-doc/html/.*\.html$"),
    ("python-sympy-doc", r"^/usr/share/doc/python-sympy-doc/html/.*\.html$"),
    ("python-astropy-doc", r"^/usr/share/doc/python-astropy-doc/html/.*\.html$"),
    ("python-dask-doc", r"^/usr/share/doc/python-dask-doc/html/.*\.html$"),
    ("python-xarray-doc", r"^/usr/share/doc/python-xarray-doc/html/.*\.html$"),
    ("python-skimage-doc", r"^/usr/share/doc/python-skimage-doc/html/.*\.html$"),
    ("python-pytest-doc", r"^/usr/share/doc/python-pytest-doc/html/.*\.html$"),
]
# A paragraph that sits under more than this many different anchors is boilerplate ("Some inconsistencies
# with the Dask version may exist.", "Click here to download the full example code"), not a description
# of any of them: it is dropped everywhere.
MAX_ANCHORS_PER_TEXT = 8

MIN_CHARS, MAX_CHARS = 40, 1500
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
# Whole subtrees that are never running text (code, tables, page chrome).
SKIP_TAGS = {"pre", "table", "script", "style", "nav", "header", "footer", "head", "form", "button", "svg", "select"}
SKIP_CLASSES = {"sphinxsidebar", "related", "footer", "navheader", "navfooter", "toc", "mobile-nav", "menu-wrapper",
                "highlight", "inline-search", "breadcrumbs", "headerlink",
                "version_switcher_placeholder", "language_switcher_placeholder", "refsynopsisdiv", "cmdsynopsis",
                "funcsynopsis", "programlisting", "screen", "synopsis", "indexterm", "footnotes", "legalnotice",
                "menu-bar", "menu-title", "sphx-glr-download-link-note"}
SKIP_IDS = {"hd", "ft", "sidebar", "global-nav", "menu-bar"}
# Captions of examples, figures and boxes ("Example 5.1. …", "See also", "BACK TO BASICS …") are <p>s
# but not running text; the same class on a heading (DocBook's <h2 class="title">) is a real heading.
SKIP_P_CLASSES = {"title", "admonition-title", "rubric"}
# Boxes whose own headings ("Note", "Tip", "Warning" in PostgreSQL's DocBook) are not section headings:
# their paragraphs still belong to the enclosing section.
BOX_CLASSES = {"note", "tip", "warning", "caution", "important", "admonition", "sidebar", "seealso"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# "Chapter 5. ", "5.4.1. ", "Part II. ", "Appendix F. ", "F.2. " — numbering is navigation, not meaning.
NUMBERING = re.compile(r"^(?:(?:Chapter|Appendix|Part|Section)\s+)?(?:[A-Z]|[IVXLC]+|\d+)(?:\.\d+)*\.\s+")


def normalise(text):
    return re.sub(r"\s+", " ", text.replace("\u00b6", " ")).strip()


def clean_heading(text):
    return NUMBERING.sub("", normalise(text)).strip()


class Page(html.parser.HTMLParser):
    """One HTML page → [(page title, section heading, paragraph)] in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # open elements: (tag, skip, box, paragraph buffer or None, heading buffer or None)
        self.page_title = None   # the first heading of the page
        self.heading = None      # the heading in force
        self.title_tag = []      # <title> text, used when a page has no heading
        self.in_title = False
        self.out = []

    def _skip(self):
        return bool(self.stack) and self.stack[-1][1]

    def _box(self):
        return bool(self.stack) and self.stack[-1][2]

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if tag == "title":
            self.in_title = True
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        # A new paragraph or block implicitly closes an open <p> (HTML's rule; the generators here close
        # their <p>s, this only keeps a stray one from swallowing the rest of the page).
        if tag in ("p", "div", "pre", "table", "ul", "ol", "dl") or tag in HEADINGS:
            if self.stack and self.stack[-1][0] == "p":
                self.handle_endtag("p")
        skip = self._skip() or tag in SKIP_TAGS or bool(classes & SKIP_CLASSES) or a.get("id") in SKIP_IDS \
            or a.get("role") == "navigation" or (tag == "p" and bool(classes & SKIP_P_CLASSES))
        box = self._box() or bool(classes & BOX_CLASSES)
        para = [] if (tag == "p" or (tag == "div" and "para" in classes)) and not skip else None
        head = [] if tag in HEADINGS and not skip and not box else None
        self.stack.append((tag, skip, box, para, head))

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in VOID or not any(e[0] == tag for e in self.stack):
            return  # a stray end tag
        while self.stack:
            name, _, _, para, head = self.stack.pop()
            if para is not None:
                self._paragraph("".join(para))
            if head is not None:
                text = clean_heading("".join(head))
                if text:
                    if self.page_title is None:
                        self.page_title = text
                    self.heading = text
            if name == tag:
                break

    def handle_data(self, data):
        if self.in_title:
            self.title_tag.append(data)
        if self._skip():
            return
        # Text goes to the innermost open paragraph or heading (a nested paragraph, e.g. a list item's
        # <p> inside DocBook's <div class="para">, keeps its own text).
        for _, _, _, para, head in reversed(self.stack):
            if head is not None:
                head.append(data)
                return
            if para is not None:
                para.append(data)
                return

    def _paragraph(self, raw):
        text = normalise(raw)
        if not (MIN_CHARS <= len(text) <= MAX_CHARS):
            return
        # Running text, not a stray signature or a listing that escaped the filters: mostly letters, some words.
        if sum(c.isalpha() for c in text) < 0.5 * len(text) or len(text.split()) < 6:
            return
        page = self.page_title or clean_heading("".join(self.title_tag).split(" \u2014 ")[0])
        if page:
            self.out.append((page, self.heading or page, text))


def read_html(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


def package_files(package):
    """(version, sorted html files) of an installed package, from dpkg."""
    try:
        version = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", package], check=True,
                                 capture_output=True, text=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None, []
    if not version.startswith("install ok installed"):
        return None, []
    files = subprocess.run(["dpkg", "-L", package], check=True, capture_output=True, text=True).stdout.split("\n")
    return version.split()[-1], sorted(files)


def build_pairs(per_heading, quiet=False):
    """All pairs, in a deterministic order (packages as listed, files sorted, document order), and
    one record per package (version, pages, paragraphs found, pairs kept)."""
    raw, seen, seen_real, sources = [], set(), set(), []
    for package, pattern in PACKAGES:
        version, files = package_files(package)
        if version is None:
            sys.exit(f"make_mining_pairs.py: Debian package {package} is not installed; run\n  {apt_command()}")
        wanted = re.compile(pattern)
        pages = [f for f in files if wanted.match(f) and not SKIP_FILES.search(f) and os.path.isfile(f)]
        found = 0
        for path in pages:
            real = os.path.realpath(path)
            if real in seen_real:          # the same page under two names (symlinks): once
                continue
            seen_real.add(real)
            parser = Page()
            parser.feed(read_html(path))
            parser.close()
            for page, heading, text in parser.out:
                found += 1
                anchor = page if heading == page else f"{page}: {heading}"
                if (anchor, text) not in seen:          # exact duplicate pairs: once
                    seen.add((anchor, text))
                    raw.append((package, anchor, text))
        sources.append({"package": package, "version": version, "pages": len(pages), "paragraphs": found})

    anchors_of = {}
    for _, anchor, text in raw:
        anchors_of.setdefault(text, set()).add(anchor)
    pairs, per_anchor, kept = [], {}, {}
    for package, anchor, text in raw:
        if len(anchors_of[text]) > MAX_ANCHORS_PER_TEXT:
            continue
        if per_anchor.get(anchor, 0) >= per_heading:   # the first paragraphs of a section
            continue
        per_anchor[anchor] = per_anchor.get(anchor, 0) + 1
        kept[package] = kept.get(package, 0) + 1
        pairs.append((anchor, text))
    for s in sources:
        s["pairs"] = kept.get(s["package"], 0)
        if not quiet:
            print(f"  {s['package']} {s['version']}: {s['pages']} pages, {s['paragraphs']} paragraphs, "
                  f"{s['pairs']} pairs", file=sys.stderr)
    return pairs, sources


def apt_command():
    return "apt-get install -y --no-install-recommends " + " ".join(p for p, _ in PACKAGES)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, help="take N pairs from a seeded shuffle (default: all, in document order)")
    ap.add_argument("--out", help="output .jsonl")
    ap.add_argument("--seed", type=int, default=20240909, help="shuffle seed")
    ap.add_argument("--per-heading", type=int, default=4, help="at most this many paragraphs per anchor")
    ap.add_argument("--stats", action="store_true", help="print the counts only")
    ap.add_argument("--from", dest="from_file", metavar="ALL.jsonl",
                    help="take the pairs from a file this script wrote without --count (parsing the HTML takes "
                         "minutes; bench/mine.sh does it once and samples every N from that file)")
    ap.add_argument("--sources", help="also write the packages, versions and counts here (JSON)")
    ap.add_argument("--apt-command", action="store_true", help="print the apt-get line that installs the sources")
    args = ap.parse_args()
    if args.apt_command:
        print(apt_command())
        return
    if not args.stats and not args.out:
        ap.error("--out is required (or --stats)")

    if args.from_file:
        with open(args.from_file, encoding="utf-8") as f:
            pairs = [(r["anchor"], r["positive"]) for r in map(json.loads, f)]
        print(f"make_mining_pairs.py: {len(pairs)} pairs available in {args.from_file}", file=sys.stderr)
        sources = None
    else:
        pairs, sources = build_pairs(args.per_heading)
        print(f"make_mining_pairs.py: {len(pairs)} pairs available ({len({a for a, _ in pairs})} distinct anchors, "
              f"{len({p for _, p in pairs})} distinct positives) from "
              + ", ".join(f"{s['package']} {s['version']}" for s in sources), file=sys.stderr)
    if args.sources and sources is not None:
        with open(args.sources, "w") as f:
            json.dump({"pairs_available": len(pairs), "per_heading": args.per_heading, "seed": args.seed,
                       "max_anchors_per_text": MAX_ANCHORS_PER_TEXT, "packages": sources}, f, indent=1)
    if args.stats:
        return
    if args.count is not None:
        if args.count > len(pairs):
            sys.exit(f"make_mining_pairs.py: --count {args.count} but only {len(pairs)} pairs are available")
        # random.Random(seed).shuffle is stable across CPython versions for the same list.
        random.Random(args.seed).shuffle(pairs)
        pairs = pairs[:args.count]
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for anchor, positive in pairs:
            f.write(json.dumps({"anchor": anchor, "positive": positive}, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)
    print(f"make_mining_pairs.py: wrote {len(pairs)} pairs ({len({a for a, _ in pairs})} distinct anchors) "
          f"to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
