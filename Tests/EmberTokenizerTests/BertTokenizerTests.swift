import EmberCore
@testable import EmberTokenizer
import EmberTestSupport
import Foundation
import XCTest

/// Repository paths, found from this file (symlinks resolved, so a scratch package that links the
/// test folder still finds the fixtures).
enum Paths {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures")
    static let tinyBert = repoRoot.appendingPathComponent("../shared/reference/tiny-bert").standardizedFileURL
}

struct Fixture {
    let texts: [String]
    let ids: [[Int32]]
    let maxLength: Int

    init(_ name: String) throws {
        let url = Paths.fixtures.appendingPathComponent(name)
        let json = try JSONValue.parse(try Data(contentsOf: url))
        texts = try XCTUnwrap(json["texts"]?.arrayValue?.map { try XCTUnwrap($0.stringValue) })
        ids = try XCTUnwrap(json["ids"]?.arrayValue?.map { row in
            try XCTUnwrap(row.arrayValue).map { Int32(try XCTUnwrap($0.intValue)) }
        })
        maxLength = try XCTUnwrap(json["max_length"]?.intValue)
        XCTAssertEqual(texts.count, ids.count, name)
    }
}

/// Compares every fixture text; returns how many matched and fails with the first differences.
@discardableResult
func assertMatches(_ tokenizer: BertTokenizer, _ fixture: Fixture, _ label: String,
                   file: StaticString = #filePath, line: UInt = #line) -> Int {
    var matched = 0
    var failures: [String] = []
    for (text, expected) in zip(fixture.texts, fixture.ids) {
        let got = tokenizer.encode(text, maxLength: fixture.maxLength)
        if got == expected {
            matched += 1
        } else {
            failures.append("\(label): \(text.debugDescription.prefix(80))\n  expected \(expected.prefix(40))\n       got \(got.prefix(40))")
        }
    }
    XCTAssertTrue(failures.isEmpty, "\(failures.count) of \(fixture.texts.count) differ:\n"
                  + failures.prefix(8).joined(separator: "\n"), file: file, line: line)
    return matched
}

final class BertTokenizerFixtureTests: XCTestCase {
    /// ../shared/reference/tiny-bert has only vocab.txt + tokenizer_config.json: the vocab.txt path.
    func testTinyBertMatchesTransformers() throws {
        let fixture = try Fixture("tokenizer_tiny.json")
        XCTAssertEqual(fixture.maxLength, 16)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Paths.tinyBert.appendingPathComponent("vocab.txt").path),
                      "tiny-bert not found at \(Paths.tinyBert.path) (expected <repo>/../shared/reference/tiny-bert)")
        let tok = try BertTokenizer(folder: Paths.tinyBert)
        XCTAssertEqual(tok.vocabularySize, 45)
        XCTAssertEqual([tok.padId, tok.unkId, tok.clsId, tok.sepId], [0, 1, 2, 3])
        XCTAssertEqual(tok.modelMaxLength, 512)
        XCTAssertTrue(tok.lowercase)
        XCTAssertEqual(assertMatches(tok, fixture, "tiny"), fixture.texts.count)
        XCTAssertEqual(tok.tokenize("The TEXTS"), ["the", "text", "##s"])
    }

    /// Runs without the model: HF's normalizer + pre-tokenizer words for every MiniLM fixture text
    /// (control/format characters, whitespace, CJK, NFD + mark stripping, lowercasing, punctuation).
    func testNormalizerAndPreTokenizerWordsMatchHuggingFace() throws {
        let url = Paths.fixtures.appendingPathComponent("tokenizer_minilm.json")
        let json = try JSONValue.parse(try Data(contentsOf: url))
        let texts = try XCTUnwrap(json["texts"]?.arrayValue).map { try XCTUnwrap($0.stringValue) }
        let words = try XCTUnwrap(json["words"]?.arrayValue).map { row in
            try XCTUnwrap(row.arrayValue).map { Array(try XCTUnwrap($0.stringValue).unicodeScalars.map(\.value)) }
        }
        XCTAssertEqual(texts.count, words.count)
        // Same normalizer options as MiniLM's tokenizer.json; the vocabulary plays no part here.
        let tok = try BertTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"], lowercase: true, stripAccents: nil)
        var differing: [String] = []
        for (text, expected) in zip(texts, words) where tok.normalizedWords(text) != expected {
            differing.append(text.debugDescription)
        }
        XCTAssertTrue(differing.isEmpty, "\(differing.count) of \(texts.count) texts differ: \(differing.prefix(10))")
    }

    /// Skipped without EMBER_MINILM_DIR, a failure under CI (see MiniLMFolder).
    private func miniLMFolder() throws -> URL { try MiniLMFolder.require() }

    /// tokenizer.json path, ~90 hostile texts, ids from transformers' AutoTokenizer.
    func testMiniLMTokenizerJSONMatchesHuggingFace() throws {
        let folder = try miniLMFolder()
        let fixture = try Fixture("tokenizer_minilm.json")
        let tok = try BertTokenizer(folder: folder)
        XCTAssertEqual(tok.vocabularySize, 30522)
        XCTAssertEqual([tok.padId, tok.unkId, tok.clsId, tok.sepId], [0, 100, 101, 102])
        XCTAssertEqual(tok.modelMaxLength, 512)
        XCTAssertEqual(tok.truncationMaxLength, 128)
        XCTAssertTrue(fixture.ids.contains { $0.count == fixture.maxLength }, "fixture must exercise truncation")
        XCTAssertEqual(assertMatches(tok, fixture, "minilm tokenizer.json"), fixture.texts.count)
    }

    /// vocab.txt + tokenizer_config.json alone must give the same ids as tokenizer.json.
    func testMiniLMVocabTxtPathMatchesTokenizerJSON() throws {
        let folder = try miniLMFolder()
        let fixture = try Fixture("tokenizer_minilm.json")
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("ember-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        for name in ["vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: folder.appendingPathComponent(name), to: temp.appendingPathComponent(name))
        }
        let fromJSON = try BertTokenizer(folder: folder)
        let fromVocab = try BertTokenizer(folder: temp)
        XCTAssertNil(fromVocab.truncationMaxLength)
        XCTAssertEqual(fromVocab.vocabularySize, fromJSON.vocabularySize)
        XCTAssertEqual([fromVocab.padId, fromVocab.unkId, fromVocab.clsId, fromVocab.sepId],
                       [fromJSON.padId, fromJSON.unkId, fromJSON.clsId, fromJSON.sepId])
        for text in fixture.texts {
            XCTAssertEqual(fromVocab.encode(text, maxLength: 512), fromJSON.encode(text, maxLength: 512), text)
        }
        XCTAssertEqual(assertMatches(fromVocab, fixture, "minilm vocab.txt"), fixture.texts.count)
    }

    /// Rust's char::to_lowercase as HF applies it, for every scalar it changes; and no other scalar changes.
    func testLowercaseMatchesHuggingFaceForEveryScalar() throws {
        let json = try JSONValue.parse(try Data(contentsOf: Paths.fixtures.appendingPathComponent("tokenizer_unicode.json")))
        let table = try XCTUnwrap(json["lowercase"]?.objectValue)
        XCTAssertGreaterThan(table.count, 1000)
        var expected: [UInt32: [UInt32]] = [:]
        for (key, value) in table {
            expected[try XCTUnwrap(UInt32(key))] = try XCTUnwrap(value.arrayValue).map { UInt32(try XCTUnwrap($0.intValue)) }
        }
        let lower = NormalizerOptions(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true)
        var mismatches: [String] = []
        for v in UInt32(0)...0x10FFFF {
            guard let s = Unicode.Scalar(v) else { continue }
            let hf = expected[v]
            guard hf != nil || s.properties.changesWhenLowercased else { continue }
            let got = lower.normalize([v][...])
            if got != (hf ?? [v]) { mismatches.append(String(format: "U+%04X hf %@ swift %@", v, "\(hf ?? [v])", "\(got)")) }
        }
        XCTAssertTrue(mismatches.isEmpty, "\(mismatches.count) lowercase differences: \(mismatches.prefix(20))")
    }
}

final class BertTokenizerBehaviourTests: XCTestCase {
    static let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "world",
                        ",", "!", "a", "##b", "##c", "b", "c", "中", "cafe", "e\u{301}", "\u{e9}", "\u{d55c}", "##s",
                        "i", "\u{307}", "naive", "[", "]", "mask"]
    func make(lowercase: Bool = true, stripAccents: Bool? = nil) throws -> BertTokenizer {
        try BertTokenizer(vocabulary: Self.vocab, lowercase: lowercase, stripAccents: stripAccents)
    }

    func testGreedyLongestMatchAndContinuationPrefix() throws {
        let tok = try make()
        XCTAssertEqual(tok.tokenize("unaffable"), ["un", "##aff", "##able"])
        XCTAssertEqual(tok.tokenize("abc cab"), ["a", "##b", "##c", "[UNK]"])
        XCTAssertEqual(tok.encode("Hello, WORLD!", maxLength: 512), [2, 8, 10, 9, 11, 3])
        XCTAssertEqual(tok.tokenize("helloworld"), ["[UNK]"], "a word with an unmatchable piece is one [UNK]")
    }

    func testEmptyWhitespaceAndControlOnly() throws {
        let tok = try make()
        XCTAssertEqual(tok.encode("", maxLength: 16), [2, 3])
        XCTAssertEqual(tok.encode(" \t\n\r\u{3000}\u{a0}", maxLength: 16), [2, 3])
        XCTAssertEqual(tok.encode("\u{0}\u{fffd}\u{200b}\u{7}", maxLength: 16), [2, 3])
        XCTAssertEqual(tok.tokenize("hel\u{200b}lo\u{0}"), ["hello"], "zero-width space is Cf: removed, not a split")
    }

    func testTruncationKeepsClsAndSep() throws {
        let tok = try make()
        let text = Array(repeating: "hello world", count: 50).joined(separator: " ")
        XCTAssertEqual(tok.encode(text, maxLength: 512).count, 102)
        let cut = tok.encode(text, maxLength: 7)
        XCTAssertEqual(cut, [2, 8, 9, 8, 9, 8, 3])
        XCTAssertEqual(tok.encode(text, maxLength: 2), [2, 3])
        XCTAssertEqual(tok.encode(text, maxLength: 0), [2, 3])
    }

    func testMaxInputCharsPerWord() throws {
        let tok = try make()
        XCTAssertEqual(tok.tokenize("a" + String(repeating: "b", count: 99)), ["a"] + Array(repeating: "##b", count: 99))
        XCTAssertEqual(tok.tokenize("a" + String(repeating: "b", count: 100)), ["[UNK]"])
    }

    func testCJKPunctuationAndSpecialTokensInText() throws {
        let tok = try make()
        XCTAssertEqual(tok.tokenize("中中b"), ["中", "中", "b"])
        XCTAssertEqual(tok.tokenize("a,b!c"), ["a", ",", "b", "!", "c"])
        XCTAssertEqual(tok.tokenize("hello [MASK] world"), ["hello", "[MASK]", "world"])
        XCTAssertEqual(tok.tokenize("hello [mask]"), ["hello", "[", "mask", "]"], "special tokens match verbatim only")
        XCTAssertEqual(tok.tokenize("x[SEP]y").count, 3)
    }

    func testAccentsLowercaseAndCanonicalEquivalence() throws {
        let stripped = try make()
        XCTAssertEqual(stripped.tokenize("Café NAÏVE"), ["cafe", "naive"])
        XCTAssertEqual(stripped.tokenize("İ"), ["i"], "NFD + strip, then lowercase")
        // Hangul syllables are decomposed to jamo by NFD: the precomposed vocabulary entry must NOT match
        // (a String-keyed dictionary would match it, since Swift compares canonically).
        XCTAssertEqual(stripped.tokenize("\u{d55c}"), ["[UNK]"])
        let kept = try make(lowercase: true, stripAccents: false)
        XCTAssertEqual(kept.encode("\u{e9}", maxLength: 8), [2, 20, 3])
        XCTAssertEqual(kept.encode("e\u{301}", maxLength: 8), [2, 19, 3])
        XCTAssertEqual(kept.encode("\u{d55c}", maxLength: 8), [2, 21, 3])
        XCTAssertEqual(kept.tokenize("İ"), ["[UNK]"], "'İ' lowercases to i + U+0307 (one word, no piece for it)")
        let cased = try make(lowercase: false)
        XCTAssertEqual(cased.tokenize("Hello hello"), ["[UNK]", "hello"])
        XCTAssertFalse(cased.stripAccents, "strip_accents follows lowercase when unset")
        XCTAssertEqual(cased.encode("\u{e9}", maxLength: 8), [2, 20, 3])
    }

    func testVocabularyWithoutSpecialTokensThrows() {
        XCTAssertThrowsError(try BertTokenizer(vocabulary: ["a", "b"], lowercase: true, stripAccents: nil)) { error in
            XCTAssertTrue((error as? EmberError)?.message.contains("[UNK]") ?? false, "\(error)")
        }
    }

    func testLongTextTokenizesCompletely() throws {
        let tok = try make()
        let long = String(repeating: "unaffable hello, world! ", count: 2000)
        XCTAssertEqual(tok.pieceIds(long).count, 2000 * 7)
    }
}

final class BertTokenizerLoadingErrorTests: XCTestCase {
    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("ember-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: temp.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func assertLoadFails(containing parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try BertTokenizer(folder: temp), file: file, line: line) { error in
            guard let e = error as? EmberError else { return XCTFail("not an EmberError: \(error)", file: file, line: line) }
            for p in parts { XCTAssertTrue(e.message.contains(p), "'\(e.message)' lacks '\(p)'", file: file, line: line) }
        }
    }

    func testMissingFolder() {
        temp = temp.appendingPathComponent("does-not-exist")
        assertLoadFails(containing: ["does-not-exist", "no such model folder"])
    }

    func testEmptyFolder() { assertLoadFails(containing: [temp.path, "tokenizer.json", "vocab.txt"]) }

    func testMalformedTokenizerJSON() throws {
        try write("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0,\n}")
        assertLoadFails(containing: ["tokenizer.json", "invalid JSON at line 2"])
    }

    func testTokenizerJSONWithoutVocab() throws {
        try write("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\"}}")
        assertLoadFails(containing: ["tokenizer.json", "model.vocab"])
    }

    func testTokenizerJSONWithOtherModel() throws {
        try write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}")
        assertLoadFails(containing: ["tokenizer.json", "BPE"])
    }

    func testMalformedTokenizerConfig() throws {
        try write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
        try write("tokenizer_config.json", "{\"do_lower_case\": tru}")
        assertLoadFails(containing: ["tokenizer_config.json", "invalid JSON"])
    }

    func testVocabWithoutUnknownToken() throws {
        try write("vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n")
        assertLoadFails(containing: ["vocab.txt", "[UNK]"])
    }

    func testMinimalTokenizerJSONAndVocabTxtAgree() throws {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "é"]
        try write("vocab.txt", tokens.joined(separator: "\n") + "\n")
        try write("tokenizer_config.json", "{\"do_lower_case\": false, \"model_max_length\": 1000000000000000019884624838656}")
        let fromVocab = try BertTokenizer(folder: temp)
        XCTAssertNil(fromVocab.modelMaxLength, "absurd model_max_length is ignored")
        XCTAssertFalse(fromVocab.lowercase)
        XCTAssertEqual(fromVocab.encode("hello worlds é É", maxLength: 10), [2, 4, 5, 6, 7, 1, 3])
        let vocabJSON = tokens.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
        try write("tokenizer.json", """
            {"added_tokens": [{"id": 0, "content": "[PAD]", "special": true, "normalized": false},
                              {"id": 1, "content": "[UNK]", "special": true, "normalized": false}],
             "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                            "strip_accents": null, "lowercase": false},
             "pre_tokenizer": {"type": "BertPreTokenizer"},
             "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
             "truncation": null, "padding": null,
             "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                       "max_input_chars_per_word": 100, "vocab": {\(vocabJSON)}}}
            """)
        let fromJSON = try BertTokenizer(folder: temp)
        XCTAssertEqual(fromJSON.encode("hello worlds é É [UNK]", maxLength: 10), [2, 4, 5, 6, 7, 1, 1, 3])
        XCTAssertEqual(fromVocab.encode("hello worlds é É [UNK]", maxLength: 10), [2, 4, 5, 6, 7, 1, 1, 3])
    }
}
