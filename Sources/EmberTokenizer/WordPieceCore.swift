import Foundation

// The pieces of Hugging Face's BERT pipeline (tokenizers' BertNormalizer, BertPreTokenizer and WordPiece),
// all working on arrays of Unicode scalar values. Swift `String`s are never compared or hashed here:
// Swift compares strings by canonical equivalence, so "한" and its NFD jamo, or "é" and "e\u{301}", would
// be equal, while Hugging Face compares code points.

/// Character classes as Hugging Face sees them (see UnicodeTables.swift).
enum CharClass {
    @inline(__always)
    static func contains(_ table: [ClosedRange<UInt32>], _ v: UInt32) -> Bool {
        var lo = 0
        var hi = table.count - 1
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let r = table[mid]
            if v < r.lowerBound { hi = mid - 1 } else if v > r.upperBound { lo = mid + 1 } else { return true }
        }
        return false
    }

    /// Removed by clean_text (NUL, U+FFFD and HF's Cc/Cf/Co, except \t \n \r).
    @inline(__always) static func isControl(_ v: UInt32) -> Bool {
        if v < 0x80 { return v < 0x20 ? (v != 0x09 && v != 0x0A && v != 0x0D) : v == 0x7F }
        return contains(HFUnicodeTables.control, v)
    }

    /// Turned into a space by clean_text (only checked on what survived `isControl`).
    @inline(__always) static func isCleanWhitespace(_ v: UInt32) -> Bool {
        if v < 0x80 { return v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D }
        return contains(HFUnicodeTables.whitespace, v)
    }

    /// Rust's `char::is_whitespace` (the White_Space property), used by BertPreTokenizer and added tokens.
    @inline(__always) static func isRustWhitespace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Isolated by BertPreTokenizer: ASCII punctuation plus HF's P* categories.
    @inline(__always) static func isPunctuation(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126)
        }
        return contains(HFUnicodeTables.punctuation, v)
    }

    @inline(__always) static func isNonspacingMark(_ v: UInt32) -> Bool {
        v >= 0x300 && contains(HFUnicodeTables.nonspacingMarks, v)
    }

    /// The CJK ranges of tokenizers' `is_chinese_char` (= transformers' `_is_chinese_char`).
    @inline(__always) static func isChinese(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// `\w` as used for single_word added tokens.
    static func isWordChar(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        return v == 0x5F || s.properties.isAlphabetic || s.properties.numericType != nil
    }
}

/// BertNormalizer's options.
struct NormalizerOptions: Sendable, Equatable {
    var cleanText: Bool
    var handleChineseChars: Bool
    var stripAccents: Bool
    var lowercase: Bool

    /// Applies BertNormalizer in HF's order: clean, CJK spacing, NFD + drop Mn, lowercase.
    func normalize(_ input: ArraySlice<UInt32>) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(input.count + 8)
        var needsNFD = false
        for v in input {
            var c = v
            if cleanText {
                if c == 0 || c == 0xFFFD || CharClass.isControl(c) { continue }
                if CharClass.isCleanWhitespace(c) { c = 0x20 }
            }
            if handleChineseChars && c >= 0x3400 && CharClass.isChinese(c) {
                out.append(0x20); out.append(c); out.append(0x20)
            } else {
                out.append(c)
            }
            if c >= 0xC0 { needsNFD = true }
        }
        if stripAccents && needsNFD {
            out = NormalizerOptions.nfdWithoutMarks(out)
        }
        if lowercase {
            var lowered: [UInt32] = []
            lowered.reserveCapacity(out.count)
            for c in out {
                if c < 0x80 {
                    lowered.append(c >= 0x41 && c <= 0x5A ? c + 0x20 : c)
                } else if let s = Unicode.Scalar(c), s.properties.changesWhenLowercased {
                    // Rust's char::to_lowercase: the full (unconditional) mapping, one scalar at a time,
                    // so no final-sigma rule and 'İ' -> "i\u{307}".
                    for l in s.properties.lowercaseMapping.unicodeScalars { lowered.append(l.value) }
                } else {
                    lowered.append(c)
                }
            }
            out = lowered
        }
        return out
    }

    /// NFD (Foundation's canonical decomposition, which includes canonical reordering and Hangul
    /// syllable decomposition), then removal of nonspacing marks.
    static func nfdWithoutMarks(_ scalars: [UInt32]) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(scalars.count + 8)
        var i = 0
        // Decompose runs of non-ASCII text only; ASCII is already NFD and has no marks.
        while i < scalars.count {
            if scalars[i] < 0x80 { result.append(scalars[i]); i += 1; continue }
            var j = i
            while j < scalars.count && scalars[j] >= 0x80 { j += 1 }
            var view = String.UnicodeScalarView()
            for k in i..<j { if let s = Unicode.Scalar(scalars[k]) { view.append(s) } }
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            for s in decomposed.unicodeScalars where !CharClass.isNonspacingMark(s.value) { result.append(s.value) }
            i = j
        }
        return result
    }
}

/// A special or user-added token matched in the text before (normalized == false) or after
/// (normalized == true) normalization, as tokenizers' AddedVocabulary does.
struct AddedToken: Sendable {
    var content: [UInt32]
    var id: Int32
    var lstrip = false
    var rstrip = false
    var singleWord = false
    var normalized = false
}

/// Leftmost-longest matching of added tokens (tokenizers uses an Aho-Corasick automaton with
/// MatchKind::LeftmostLongest; the token lists are tiny, so a first-scalar filter is enough).
struct AddedTokenMatcher: Sendable {
    private var tokens: [AddedToken]
    private var firstScalars: Set<UInt32>

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens.filter { !$0.content.isEmpty }
        self.firstScalars = Set(self.tokens.map { $0.content[0] })
    }

    var isEmpty: Bool { tokens.isEmpty }

    enum Piece { case text(Range<Int>), token(Int32) }

    /// Splits `s` into text ranges and matched token ids.
    func split(_ s: [UInt32]) -> [Piece] {
        if tokens.isEmpty { return [.text(0..<s.count)] }
        var pieces: [Piece] = []
        var textStart = 0
        var i = 0
        while i < s.count {
            guard firstScalars.contains(s[i]) else { i += 1; continue }
            var best: AddedToken? = nil
            for t in tokens where t.content.count > (best?.content.count ?? 0) && i + t.content.count <= s.count {
                if s[i..<(i + t.content.count)].elementsEqual(t.content) { best = t }
            }
            guard let token = best else { i += 1; continue }
            var start = i
            var stop = i + token.content.count
            if token.singleWord {
                let startOK = start == 0 || !CharClass.isWordChar(s[start - 1])
                let stopOK = stop == s.count || !CharClass.isWordChar(s[stop])
                if !startOK || !stopOK { i = stop; continue }
            }
            if token.lstrip {
                var k = start
                while k > textStart && CharClass.isRustWhitespace(s[k - 1]) { k -= 1 }
                start = k
            }
            if token.rstrip {
                while stop < s.count && CharClass.isRustWhitespace(s[stop]) { stop += 1 }
            }
            if textStart < start { pieces.append(.text(textStart..<start)) }
            pieces.append(.token(token.id))
            textStart = stop
            i = stop
        }
        if textStart < s.count { pieces.append(.text(textStart..<s.count)) }
        return pieces
    }
}

/// WordPiece vocabulary as two tries over scalar values: one for word-initial pieces (every token, as
/// written), one for continuation pieces (tokens that start with the continuing prefix, prefix removed).
/// A trie walk finds the longest vocabulary entry that prefixes the rest of the word, which is exactly
/// what HF's "try the longest substring first" loop finds, without building any substrings.
struct WordPieceVocabulary: Sendable {
    private var edges: [UInt64: Int32] = [:]   // (node << 21 | scalar) -> child node
    private var tokenAt: [Int32] = [-1, -1]    // node -> token id, -1 if none; node 0 and 1 are the roots

    init(tokens: [(scalars: [UInt32], id: Int32)], continuingPrefix: [UInt32]) {
        edges.reserveCapacity(tokens.count * 4)
        for (scalars, id) in tokens {
            insert(scalars[...], id: id, root: 0)
            if !continuingPrefix.isEmpty, scalars.count >= continuingPrefix.count,
               scalars[0..<continuingPrefix.count].elementsEqual(continuingPrefix) {
                insert(scalars[continuingPrefix.count...], id: id, root: 1)
            }
        }
    }

    private mutating func insert(_ scalars: ArraySlice<UInt32>, id: Int32, root: Int32) {
        var node = root
        for v in scalars {
            let key = UInt64(node) << 21 | UInt64(v)
            if let next = edges[key] {
                node = next
            } else {
                let next = Int32(tokenAt.count)
                tokenAt.append(-1)
                edges[key] = next
                node = next
            }
        }
        tokenAt[Int(node)] = id  // a later duplicate wins, like a Python dict built line by line
    }

    /// Greedy longest-match-first WordPiece of one pre-tokenized word, appended to `out`.
    func tokenize(_ word: ArraySlice<UInt32>, unkId: Int32, maxInputCharsPerWord: Int, into out: inout [Int32]) {
        if word.count > maxInputCharsPerWord { out.append(unkId); return }
        let mark = out.count
        var start = word.startIndex
        while start < word.endIndex {
            var node: Int32 = start == word.startIndex ? 0 : 1
            var bestEnd = -1
            var bestId: Int32 = -1
            var k = start
            while k < word.endIndex {
                guard let next = edges[UInt64(node) << 21 | UInt64(word[k])] else { break }
                node = next
                k += 1
                let id = tokenAt[Int(node)]
                if id >= 0 { bestEnd = k; bestId = id }
            }
            if bestEnd < 0 {
                out.removeSubrange(mark...)
                out.append(unkId)
                return
            }
            out.append(bestId)
            start = bestEnd
        }
    }
}
