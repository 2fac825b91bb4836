import Foundation
import XCTest

/// A folder's own prompts where the reference applies them without being asked: its
/// `mine_hard_negatives` and IR evaluator encode through `encode_query` (the "query" prompt) and
/// `encode_document` (the first of "document", "passage", "corpus"); an empty one of those keeps the
/// folder's default_prompt_name out. Each case must equal passing the same prompts by flag.
extension PromptCLITests {
    func pairsFile(_ dir: URL) throws -> String {
        let pairs = [("the cat", "a cat is in the text"), ("anchor", "positive text"), ("a short text", "short texts"),
                     ("in the", "and of the"), ("negative", "the negative text")]
        let url = dir.appendingPathComponent("pairs-\(UUID().uuidString.prefix(8)).jsonl")
        try pairs.map { #"{"anchor": "\#($0.0)", "positive": "\#($0.1)"}"# }.joined(separator: "\n")
            .write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `ember mine` into a fresh file; returns its rows (the scores show which prompts were applied).
    func mine(_ dir: URL, model: String, data: String, _ extra: [String] = []) throws -> String {
        let out = dir.appendingPathComponent("mined-\(UUID().uuidString.prefix(8)).jsonl")
        let r = try ember(["mine", "--model", model, "--data", data, "--output", out.path, "--output-format", "n-tuple",
                           "--output-scores", "--num-negatives", "2"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try String(contentsOf: out, encoding: .utf8)
    }

    func testMineAppliesTheFoldersQueryAndDocumentPrompts() throws {
        let dir = try temporaryFolder()
        let data = try pairsFile(dir)
        let (qp, cp, other) = ("a short text: ", "the text: ", "in the: ")
        let folder = try promptedModel(dir, config: #"{"prompts": {"query": "\#(qp)", "passage": "\#(cp)", "other": "\#(other)"}, "default_prompt_name": "other"}"#)
        let byFlag = try mine(dir, model: CLITests.tinyBert, data: data, ["--query-prompt", qp, "--corpus-prompt", cp])
        XCTAssertEqual(try mine(dir, model: folder, data: data), byFlag)
        XCTAssertNotEqual(byFlag, try mine(dir, model: CLITests.tinyBert, data: data))
        // A flag beats the folder's prompt: an empty one turns it off; a name picks another.
        XCTAssertEqual(try mine(dir, model: folder, data: data, ["--query-prompt", "", "--corpus-prompt", ""]),
                       try mine(dir, model: CLITests.tinyBert, data: data))
        XCTAssertEqual(try mine(dir, model: folder, data: data, ["--query-prompt-name", "other"]),
                       try mine(dir, model: CLITests.tinyBert, data: data, ["--query-prompt", other, "--corpus-prompt", cp]))
        // Without query/document prompts the default prompt name applies to both sides, as in encode…
        let defaulted = try promptedModel(dir, config: #"{"prompts": {"other": "\#(other)"}, "default_prompt_name": "other"}"#)
        XCTAssertEqual(try mine(dir, model: defaulted, data: data),
                       try mine(dir, model: CLITests.tinyBert, data: data, ["--query-prompt", other, "--corpus-prompt", other]))
        // …but empty query/document prompts (what recent sentence-transformers saves) keep it out.
        let emptied = try promptedModel(dir, config: #"{"prompts": {"query": "", "document": "", "other": "\#(other)"}, "default_prompt_name": "other"}"#)
        XCTAssertEqual(try mine(dir, model: emptied, data: data), try mine(dir, model: CLITests.tinyBert, data: data))

        let out = dir.appendingPathComponent("refused.jsonl").path
        try expectFailure(["mine", "--model", folder, "--data", data, "--output", out, "--query-prompt", qp, "--query-prompt-name", "other"],
                          mentioning: "--query-prompt and --query-prompt-name")
        try expectFailure(["mine", "--model", folder, "--data", data, "--output", out, "--corpus-prompt-name", "document"],
                          mentioning: "--corpus-prompt-name 'document'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testEvaluateAppliesTheFoldersQueryAndDocumentPrompts() throws {
        let dir = try temporaryFolder()
        let queries = try records(dir, "q.jsonl", ["the cat", "a short text", "anchor", "negative and positive"])
        let corpus = try records(dir, "c.jsonl", ["the cat is in the text", "a short text of a dog", "anchor and positive", "negative text", "the positive"])
        let qrels = dir.appendingPathComponent("qrels.jsonl").path
        try (0..<4).map { #"{"query_id": "q\#($0)", "corpus_id": "c\#($0)", "score": 1}"# }.joined(separator: "\n")
            .write(toFile: qrels, atomically: true, encoding: .utf8)
        func evaluate(_ model: String, _ extra: [String] = []) throws -> String {
            let r = try ember(["evaluate", "--model", model, "--queries", queries, "--corpus", corpus, "--qrels", qrels] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout
        }
        let (qp, cp) = ("a short text: ", "the text: ")
        let folder = try promptedModel(dir, config: #"{"prompts": {"query": "\#(qp)", "corpus": "\#(cp)"}}"#)
        let byFlag = try evaluate(CLITests.tinyBert, ["--query-prompt", qp, "--corpus-prompt", cp])
        XCTAssertEqual(try evaluate(folder), byFlag)
        XCTAssertNotEqual(byFlag, try evaluate(CLITests.tinyBert))
    }
}
