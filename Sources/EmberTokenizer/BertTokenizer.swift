import EmberCore
import Foundation

/// BERT WordPiece tokenizer, id-for-id identical to Hugging Face's (tokenizers' BertNormalizer +
/// BertPreTokenizer + WordPiece + [CLS]/[SEP] template, which transformers' BertTokenizer also is).
public struct BertTokenizer: Sendable {
    public let clsId: Int32
    public let sepId: Int32
    public let padId: Int32
    public let unkId: Int32
    /// One more than the largest token id (the number of embedding rows the ids need).
    public let vocabularySize: Int
    /// tokenizer_config.json's model_max_length when it is sane (< 1e6), else nil.
    public let modelMaxLength: Int?
    /// tokenizer.json's truncation.max_length, when the file has one.
    public let truncationMaxLength: Int?

    public let lowercase: Bool
    public let stripAccents: Bool
    public let tokenizeChineseChars: Bool
    public let cleanText: Bool
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int

    private let normalizer: NormalizerOptions
    private let vocabulary: WordPieceVocabulary
    private let rawAddedTokens: AddedTokenMatcher
    private let normalizedAddedTokens: AddedTokenMatcher
    private let idToToken: [String]

    // MARK: - Building

    /// Builds a tokenizer from a vocabulary (token i has id i), the way transformers' BertTokenizer does
    /// from vocab.txt: the special tokens present in the vocabulary are matched verbatim in the text.
    /// - Parameters:
    ///   - stripAccents: nil follows `lowercase`, as in BERT.
    ///   - specialTokens: (unk, cls, sep, pad, mask); each but mask must be in the vocabulary.
    public init(vocabulary: [String], lowercase: Bool = true, stripAccents: Bool? = nil,
                tokenizeChineseChars: Bool = true, cleanText: Bool = true,
                unkToken: String = "[UNK]", clsToken: String = "[CLS]", sepToken: String = "[SEP]",
                padToken: String = "[PAD]", maskToken: String? = "[MASK]",
                maxInputCharsPerWord: Int = 100, modelMaxLength: Int? = nil) throws {
        try self.init(vocabulary: vocabulary, source: "vocabulary", lowercase: lowercase, stripAccents: stripAccents,
                      tokenizeChineseChars: tokenizeChineseChars, cleanText: cleanText, unkToken: unkToken,
                      clsToken: clsToken, sepToken: sepToken, padToken: padToken, maskToken: maskToken,
                      extraAddedTokens: [], maxInputCharsPerWord: maxInputCharsPerWord, modelMaxLength: modelMaxLength)
    }

    private init(vocabulary: [String], source: String, lowercase: Bool, stripAccents: Bool?,
                 tokenizeChineseChars: Bool, cleanText: Bool, unkToken: String, clsToken: String,
                 sepToken: String, padToken: String, maskToken: String?, extraAddedTokens: [AddedToken],
                 maxInputCharsPerWord: Int, modelMaxLength: Int?) throws {
        var lookup: [[UInt32]: Int32] = [:]  // keyed by scalars, never by String (see WordPieceCore.swift)
        for (i, t) in vocabulary.enumerated() { lookup[Array(t.unicodeScalars.map(\.value))] = Int32(i) }
        func id(_ token: String, _ role: String) throws -> Int32 {
            guard let id = lookup[token.unicodeScalars.map(\.value)] else {
                throw EmberError("\(source): the \(role) token '\(token)' is not in the vocabulary")
            }
            return id
        }
        var added: [AddedToken] = []
        for token in [padToken, unkToken, clsToken, sepToken, maskToken].compactMap({ $0 }) {
            if let i = lookup[token.unicodeScalars.map(\.value)] {
                added.append(AddedToken(content: token.unicodeScalars.map(\.value), id: i))
            }
        }
        try self.init(tokens: vocabulary.enumerated().map { ($0.element, Int32($0.offset)) },
                      normalizer: NormalizerOptions(cleanText: cleanText, handleChineseChars: tokenizeChineseChars,
                                                    stripAccents: stripAccents ?? lowercase, lowercase: lowercase),
                      unkId: try id(unkToken, "unknown"), clsId: try id(clsToken, "CLS"),
                      sepId: try id(sepToken, "SEP"), padId: try id(padToken, "padding"),
                      addedTokens: extraAddedTokens + added, continuingPrefix: "##",  // the config's flags win
                      maxInputCharsPerWord: maxInputCharsPerWord, modelMaxLength: modelMaxLength,
                      truncationMaxLength: nil)
    }

    private init(tokens: [(String, Int32)], normalizer: NormalizerOptions, unkId: Int32, clsId: Int32,
                 sepId: Int32, padId: Int32, addedTokens: [AddedToken], continuingPrefix: String,
                 maxInputCharsPerWord: Int, modelMaxLength: Int?, truncationMaxLength: Int?) throws {
        self.normalizer = normalizer
        self.lowercase = normalizer.lowercase
        self.stripAccents = normalizer.stripAccents
        self.tokenizeChineseChars = normalizer.handleChineseChars
        self.cleanText = normalizer.cleanText
        self.unkId = unkId
        self.clsId = clsId
        self.sepId = sepId
        self.padId = padId
        self.continuingSubwordPrefix = continuingPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.modelMaxLength = modelMaxLength
        self.truncationMaxLength = truncationMaxLength
        let maxId = max(tokens.map(\.1).max() ?? -1, addedTokens.map(\.id).max() ?? -1)
        self.vocabularySize = Int(maxId) + 1
        var names = [String](repeating: "", count: Int(maxId) + 1)
        for (t, i) in tokens { names[Int(i)] = t }
        for a in addedTokens {
            var view = String.UnicodeScalarView()
            for v in a.content { if let s = Unicode.Scalar(v) { view.append(s) } }
            names[Int(a.id)] = String(view)
        }
        self.idToToken = names
        self.vocabulary = WordPieceVocabulary(
            tokens: tokens.map { (Array($0.0.unicodeScalars.map(\.value)), $0.1) },
            continuingPrefix: Array(continuingPrefix.unicodeScalars.map(\.value)))
        self.rawAddedTokens = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
        // HF matches normalized added tokens against the normalized text, with their content normalized too.
        self.normalizedAddedTokens = AddedTokenMatcher(addedTokens.filter(\.normalized).map {
            var t = $0
            t.content = normalizer.normalize(t.content[...])
            return t
        })
        for id in [unkId, clsId, sepId, padId] where id < 0 {
            throw EmberError("invalid special token id \(id)")
        }
        // [CLS], [SEP] and [UNK] end up in every id sequence, which indexes the embedding table: each must be
        // a token of the vocabulary (a post-processor may name ids the vocabulary does not have).
        for (id, role) in [(unkId, "unknown"), (clsId, "CLS"), (sepId, "SEP")] where Int(id) >= vocabularySize {
            throw EmberError("the \(role) token id \(id) is outside the vocabulary (\(vocabularySize) ids)")
        }
    }

    // MARK: - Encoding

    /// [CLS] + word pieces + [SEP], the pieces truncated so that the total is at most `maxLength`
    /// (CLS and SEP are always kept, so the result has at least 2 ids).
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        let budget = max(maxLength - 2, 0)
        var ids: [Int32] = [clsId]
        ids.reserveCapacity(min(budget, text.utf8.count + 2) + 2)
        appendPieceIds(text, limit: budget + 1, into: &ids)
        if ids.count > budget + 1 { ids.removeSubrange((budget + 1)...) }
        ids.append(sepId)
        return ids
    }

    /// Word-piece ids without [CLS]/[SEP] and without truncation.
    public func pieceIds(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        appendPieceIds(text, limit: Int.max, into: &ids)
        return ids
    }

    /// The word pieces (and any special tokens written in the text), without [CLS]/[SEP].
    public func tokenize(_ text: String) -> [String] {
        pieceIds(text).map { idToToken[Int($0)] }
    }

    /// The token whose id is `id`, if any.
    public func token(forId id: Int32) -> String? {
        id >= 0 && Int(id) < idToToken.count ? idToToken[Int(id)] : nil
    }

    /// BertNormalizer + BertPreTokenizer alone (no added-token matching, no vocabulary): the words
    /// WordPiece would see. For tests against HF's normalizer and pre-tokenizer.
    func normalizedWords(_ text: String) -> [[UInt32]] {
        let s = normalizer.normalize(text.unicodeScalars.map(\.value)[...])
        var words: [[UInt32]] = []
        var current: [UInt32] = []
        for c in s {
            let space = CharClass.isRustWhitespace(c)
            if space || CharClass.isPunctuation(c) {
                if !current.isEmpty { words.append(current); current = [] }
                if !space { words.append([c]) }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Appends piece ids until `out.count >= limit` (or the text ends).
    private func appendPieceIds(_ text: String, limit: Int, into out: inout [Int32]) {
        let scalars = text.unicodeScalars.map(\.value)
        for piece in rawAddedTokens.split(scalars) {
            if out.count >= limit { return }
            switch piece {
            case .token(let id):
                out.append(id)
            case .text(let range):
                let normalized = normalizer.normalize(scalars[range])
                if normalizedAddedTokens.isEmpty {
                    appendWords(normalized, 0..<normalized.count, limit: limit, into: &out)
                } else {
                    for sub in normalizedAddedTokens.split(normalized) {
                        if out.count >= limit { return }
                        switch sub {
                        case .token(let id): out.append(id)
                        case .text(let r): appendWords(normalized, r, limit: limit, into: &out)
                        }
                    }
                }
            }
        }
    }

    /// BertPreTokenizer (split on whitespace, isolate punctuation), then WordPiece on each word.
    private func appendWords(_ s: [UInt32], _ range: Range<Int>, limit: Int, into out: inout [Int32]) {
        var wordStart = -1
        var i = range.lowerBound
        while i < range.upperBound {
            let c = s[i]
            let space = CharClass.isRustWhitespace(c)
            if space || CharClass.isPunctuation(c) {
                if wordStart >= 0 {
                    vocabulary.tokenize(s[wordStart..<i], unkId: unkId, maxInputCharsPerWord: maxInputCharsPerWord, into: &out)
                    wordStart = -1
                    if out.count >= limit { return }
                }
                if !space {
                    vocabulary.tokenize(s[i...i], unkId: unkId, maxInputCharsPerWord: maxInputCharsPerWord, into: &out)
                    if out.count >= limit { return }
                }
            } else if wordStart < 0 {
                wordStart = i
            }
            i += 1
        }
        if wordStart >= 0 {
            vocabulary.tokenize(s[wordStart..<range.upperBound], unkId: unkId,
                                maxInputCharsPerWord: maxInputCharsPerWord, into: &out)
        }
    }

    // MARK: - Loading a model folder

    /// Loads `folder/tokenizer.json` when present (a WordPiece model with BertNormalizer), else
    /// `folder/vocab.txt` with `folder/tokenizer_config.json` (optional). `modelMaxLength` comes from
    /// tokenizer_config.json in both cases.
    public init(folder: URL) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EmberError("\(folder.path): no such model folder")
        }
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        let config: JSONValue? = fm.fileExists(atPath: configURL.path) ? try BertTokenizer.readJSON(configURL) : nil
        if let config, config.objectValue == nil {
            throw EmberError("\(configURL.path): expected a JSON object")
        }
        var modelMaxLength: Int? = nil
        if let n = config?["model_max_length"]?.intValue, n > 0, n < 1_000_000 { modelMaxLength = n }

        let jsonURL = folder.appendingPathComponent("tokenizer.json")
        if fm.fileExists(atPath: jsonURL.path) {
            try self.init(tokenizerJSON: jsonURL, modelMaxLength: modelMaxLength)
            return
        }
        let vocabURL = folder.appendingPathComponent("vocab.txt")
        guard fm.fileExists(atPath: vocabURL.path) else {
            throw EmberError("\(folder.path): no tokenizer.json or vocab.txt in the model folder")
        }
        let vocabulary = try BertTokenizer.readVocabTxt(vocabURL)
        let c = config ?? .object([])
        func flag(_ key: String) throws -> Bool? {
            guard let v = c[key], !v.isNull else { return nil }
            guard let b = v.boolValue else { throw EmberError("\(configURL.path): \(key) must be true, false or null") }
            return b
        }
        func tokenName(_ key: String, _ fallback: String) throws -> String {
            guard let v = c[key], !v.isNull else { return fallback }
            if let s = v.stringValue { return s }
            if let s = v["content"]?.stringValue { return s }  // serialized AddedToken
            throw EmberError("\(configURL.path): \(key) must be a string")
        }
        let lower = try flag("do_lower_case") ?? true
        // tokenizer_config.json may list further added tokens (added_tokens_decoder: {"id": {...}}).
        var extra: [AddedToken] = []
        if let decoder = c["added_tokens_decoder"]?.objectValue {
            for (key, value) in decoder {
                guard let id = Int32(key), let content = value["content"]?.stringValue else {
                    throw EmberError("\(configURL.path): malformed added_tokens_decoder entry '\(key)'")
                }
                guard Int(id) < vocabulary.count, vocabulary[Int(id)].unicodeScalars.elementsEqual(content.unicodeScalars)
                else { continue }  // the five special tokens are added below; others must be vocabulary entries
                extra.append(AddedToken(content: content.unicodeScalars.map(\.value), id: id,
                                        lstrip: value["lstrip"]?.boolValue ?? false,
                                        rstrip: value["rstrip"]?.boolValue ?? false,
                                        singleWord: value["single_word"]?.boolValue ?? false,
                                        normalized: value["normalized"]?.boolValue ?? !(value["special"]?.boolValue ?? false)))
            }
        }
        try self.init(vocabulary: vocabulary, source: vocabURL.path, lowercase: lower,
                      stripAccents: try flag("strip_accents"),
                      tokenizeChineseChars: try flag("tokenize_chinese_chars") ?? true, cleanText: true,
                      unkToken: try tokenName("unk_token", "[UNK]"), clsToken: try tokenName("cls_token", "[CLS]"),
                      sepToken: try tokenName("sep_token", "[SEP]"), padToken: try tokenName("pad_token", "[PAD]"),
                      maskToken: try tokenName("mask_token", "[MASK]"),
                      extraAddedTokens: extra,
                      maxInputCharsPerWord: 100, modelMaxLength: modelMaxLength)
    }

    private init(tokenizerJSON url: URL, modelMaxLength: Int?) throws {
        let path = url.path
        let root = try BertTokenizer.readJSON(url)
        func fail(_ what: String) -> EmberError { EmberError("\(path): \(what)") }
        guard let model = root["model"], model.objectValue != nil else { throw fail("no \"model\" object") }
        let modelType = model["type"]?.stringValue ?? "WordPiece"
        guard modelType == "WordPiece" else { throw fail("model type \(modelType) is not supported (WordPiece only)") }
        guard let vocab = model["vocab"]?.objectValue else { throw fail("model.vocab is missing or not an object") }
        var tokens: [(String, Int32)] = []
        tokens.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = value.intValue, id >= 0, id < 50_000_000 else {
                throw fail("model.vocab: the id of '\(token)' is not a non-negative integer")
            }
            tokens.append((token, Int32(id)))
        }
        guard !tokens.isEmpty else { throw fail("model.vocab is empty") }
        var lookup: [[UInt32]: Int32] = [:]
        for (t, i) in tokens { lookup[t.unicodeScalars.map(\.value)] = i }

        // Added tokens (special tokens first of all).
        var added: [AddedToken] = []
        for entry in root["added_tokens"]?.arrayValue ?? [] {
            guard let content = entry["content"]?.stringValue, let id = entry["id"]?.intValue, id >= 0,
                  id < 50_000_000 else {
                throw fail("malformed added_tokens entry")
            }
            added.append(AddedToken(content: content.unicodeScalars.map(\.value), id: Int32(id),
                                    lstrip: entry["lstrip"]?.boolValue ?? false, rstrip: entry["rstrip"]?.boolValue ?? false,
                                    singleWord: entry["single_word"]?.boolValue ?? false,
                                    normalized: entry["normalized"]?.boolValue ?? false))
            lookup[content.unicodeScalars.map(\.value)] = Int32(id)
        }
        func idOf(_ token: String) -> Int32? { lookup[token.unicodeScalars.map(\.value)] }
        /// A token id the file states outside the vocabulary (post-processor, padding): a non-negative
        /// integer in the same range as vocabulary ids, never trapping on conversion to Int32.
        func tokenId(_ value: JSONValue, _ what: String) throws -> Int32 {
            guard let id = value.intValue, id >= 0, id < 50_000_000 else { throw fail("\(what): the id is not a non-negative integer") }
            return Int32(id)
        }

        // Normalizer.
        var options = NormalizerOptions(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        if let n = root["normalizer"], !n.isNull {
            guard n["type"]?.stringValue == "BertNormalizer" else {
                throw fail("normalizer \(n["type"]?.stringValue ?? "?") is not supported (BertNormalizer only)")
            }
            let lower = n["lowercase"]?.boolValue ?? true
            options = NormalizerOptions(cleanText: n["clean_text"]?.boolValue ?? true,
                                        handleChineseChars: n["handle_chinese_chars"]?.boolValue ?? true,
                                        stripAccents: n["strip_accents"]?.boolValue ?? lower, lowercase: lower)
        }
        if let p = root["pre_tokenizer"], !p.isNull, p["type"]?.stringValue != "BertPreTokenizer" {
            throw fail("pre_tokenizer \(p["type"]?.stringValue ?? "?") is not supported (BertPreTokenizer only)")
        }

        // Special tokens: unk from the model, CLS/SEP from the post-processor, PAD from padding.
        let unkName = model["unk_token"]?.stringValue ?? "[UNK]"
        guard let unk = idOf(unkName) else { throw fail("the unknown token '\(unkName)' is not in the vocabulary") }
        var cls = idOf("[CLS]")
        var sep = idOf("[SEP]")
        if let post = root["post_processor"], !post.isNull {
            switch post["type"]?.stringValue {
            case "TemplateProcessing":
                var specials: [Int32] = []
                for item in post["single"]?.arrayValue ?? [] {
                    guard let name = item["SpecialToken"]?["id"]?.stringValue else { continue }
                    if let value = post["special_tokens"]?[name]?["ids"]?.arrayValue?.first {
                        specials.append(try tokenId(value, "post_processor: special token '\(name)'"))
                    } else if let id = idOf(name) {
                        specials.append(id)
                    } else {
                        throw fail("post_processor: special token '\(name)' has no id")
                    }
                }
                guard specials.count == 2 else {
                    throw fail("post_processor: expected a [CLS] \\$A [SEP] template, found \(specials.count) special tokens")
                }
                cls = specials[0]
                sep = specials[1]
            case "BertProcessing", "RobertaProcessing":
                guard let c = post["cls"]?.arrayValue, c.count == 2, let s = post["sep"]?.arrayValue, s.count == 2 else {
                    throw fail("post_processor: malformed cls/sep")
                }
                cls = try tokenId(c[1], "post_processor: cls")
                sep = try tokenId(s[1], "post_processor: sep")
            default:
                throw fail("post_processor \(post["type"]?.stringValue ?? "?") is not supported")
            }
        }
        guard let clsId = cls, let sepId = sep else { throw fail("no [CLS]/[SEP] tokens") }
        var pad = idOf("[PAD]") ?? 0
        if let padding = root["padding"], !padding.isNull, let p = padding["pad_id"] { pad = try tokenId(p, "padding.pad_id") }

        var truncation: Int? = nil
        if let t = root["truncation"], !t.isNull, let n = t["max_length"]?.intValue, n > 0 { truncation = n }
        let maxChars = model["max_input_chars_per_word"]?.intValue ?? 100
        let prefix = model["continuing_subword_prefix"]?.stringValue ?? "##"
        try self.init(tokens: tokens, normalizer: options, unkId: unk, clsId: clsId, sepId: sepId, padId: pad,
                      addedTokens: added, continuingPrefix: prefix, maxInputCharsPerWord: maxChars,
                      modelMaxLength: modelMaxLength, truncationMaxLength: truncation)
    }

    // MARK: - Files

    static func readJSON(_ url: URL) throws -> JSONValue {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw EmberError("\(url.path): cannot be read") }
        do { return try JSONValue.parse(data) } catch let e as JSONValue.ParseError {
            throw EmberError("\(url.path): \(e.message)")
        }
    }

    /// vocab.txt as transformers reads it: one token per line (Python's universal newlines), in id order.
    static func readVocabTxt(_ url: URL) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw EmberError("\(url.path): cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw EmberError("\(url.path): not valid UTF-8") }
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var previousCR = false
        for s in text.unicodeScalars {
            if s == "\n" {
                if !previousCR { lines.append(String(current)); current = String.UnicodeScalarView() }
                previousCR = false
            } else if s == "\r" {
                lines.append(String(current)); current = String.UnicodeScalarView()
                previousCR = true
            } else {
                current.append(s)
                previousCR = false
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        guard !lines.isEmpty else { throw EmberError("\(url.path): the vocabulary is empty") }
        return lines
    }
}
