import Foundation
import XCTest

/// `ember mine` as a user runs it, on the tiny BERT: the reference's columns and grouping, positives
/// never mined for their own anchor, the summary on stderr, and bad input ending in one error line with
/// no output file.
final class MineCLITests: XCTestCase {
    let rows: [(String, String)] = [
        ("how do I reset my password", "Open settings and choose reset password"),
        ("what is the capital of France", "Paris is the capital of France"),
        ("how do I reset my password", "Use the forgot password link"),
        ("best way to cook rice", "Rinse, then simmer with twice the water"),
        ("how tall is Everest", "About 8849 metres"),
        ("who wrote Hamlet", "William Shakespeare wrote Hamlet"),
        ("what is the capital of France", "Paris is the capital of France"),
    ]

    func writePairs(_ dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("pairs.jsonl")
        var text = ""
        for (i, (q, a)) in rows.enumerated() {
            // Written by hand: columns are taken in file order. Only the first row has a third column,
            // which mining ignores (the reference drops extra columns).
            let extra = i == 0 ? ", \"id\": \"only-here\"" : ""
            text += "{\"question\": \(try json(q)), \"answer\": \(try json(a))\(extra)}\n"
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func json(_ s: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: s, options: .fragmentsAllowed), as: UTF8.self)
    }

    func readRows(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testMinesTripletsAndNTuplesWithTheInputsColumnNames() throws {
        let dir = try temporaryFolder()
        let pairs = try writePairs(dir)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try "a cat sat on the mat\nthe weather is nice\nParis is the capital of France\n".write(to: corpus, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("mined.jsonl")
        let r = try ember(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--corpus", corpus.path, "--output", out.path,
                           "--num-negatives", "2", "--output-scores", "--batch-size", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("Metric       Positive       Negative     Difference"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Found 5 unique queries out of 7 total queries."), r.stderr)
        XCTAssertTrue(r.stderr.contains("Setting range_max to 4 based on the provided parameters."), "0 + 2 + 2 rows (France's duplicate row counts)")
        let mined = try readRows(out)
        XCTAssertEqual(mined.count, 6 * 2, "6 distinct pairs × 2 negatives (the corpus is large enough)")
        var positives: [String: Set<String>] = [:]
        for (q, a) in rows { positives[q, default: []].insert(a) }
        for row in mined {
            XCTAssertEqual(Set(row.keys), ["question", "answer", "negative", "scores"], "the input's names; extra columns dropped")
            let q = row["question"] as! String, n = row["negative"] as! String
            XCTAssertFalse(positives[q]!.contains(n), "\(n) is a positive of \(q)")
            XCTAssertEqual((row["scores"] as! [Double]).count, 2)
        }
        // Grouped order: anchors by first appearance, then their positives by first appearance.
        XCTAssertEqual(mined.map { $0["answer"] as! String }.enumerated().filter { $0.offset % 2 == 0 }.map(\.element),
                       ["Open settings and choose reset password", "Use the forgot password link", "Paris is the capital of France",
                        "Rinse, then simmer with twice the water", "About 8849 metres", "William Shakespeare wrote Hamlet"])

        // Rerunning replaces Ember's own output without --overwrite; n-tuple names negative_1…N.
        let again = try ember(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", out.path,
                               "--num-negatives", "3", "--output-format", "n-tuple", "--columns", "answer,question"])
        XCTAssertEqual(again.status, 0, again.stderr)
        for row in try readRows(out) {
            XCTAssertEqual(Set(row.keys), ["answer", "question", "negative_1", "negative_2", "negative_3"])
        }
    }

    func testBadInputIsOneLineAndLeavesNoOutput() throws {
        let dir = try temporaryFolder()
        let pairs = try writePairs(dir)
        let empty = dir.appendingPathComponent("empty.jsonl")
        try Data().write(to: empty)
        let out = dir.appendingPathComponent("mined.jsonl")
        let base = ["mine", "--model", CLITests.tinyBert, "--output", out.path]
        try expectFailure(base + ["--data", pairs.path, "--num-negatives", "5", "--range-max", "3"],
                          mentioning: "--num-negatives 5 is larger than the rank window")
        try expectFailure(base + ["--data", pairs.path, "--range-min", "3", "--range-max", "3"],
                          mentioning: "--range-min must be smaller than --range-max")
        try expectFailure(base + ["--data", pairs.path, "--num-negatives", "0"], mentioning: "--num-negatives must be at least 1")
        try expectFailure(base + ["--data", empty.path], mentioning: "\(empty.path): empty file")
        try expectFailure(base + ["--data", pairs.path, "--columns", "question,reply"], mentioning: "no column 'reply'")
        try expectFailure(base + ["--data", pairs.path, "--columns", "question,answer,id"], mentioning: "--columns: mining takes two columns")
        try expectFailure(base + ["--data", pairs.path, "--sampling", "best"], mentioning: "--sampling")
        try expectFailure(base + ["--data", pairs.path, "--output-format", "pairs"], mentioning: "--output-format")
        try expectFailure(base + ["--data", pairs.path, "--cache-folder", pairs.path], mentioning: "--cache-folder")
        try expectFailure(base + ["--data", pairs.path, "--corpus", dir.appendingPathComponent("nope.txt").path], mentioning: "nope.txt")
        try expectFailure(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", dir.appendingPathComponent("o.csv").path],
                          mentioning: "--output")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no output after a failure")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["empty.jsonl", "pairs.jsonl"],
                       "no temporary left behind")

        // A file Ember did not write is refused, and kept as it was.
        let notes = dir.appendingPathComponent("notes.jsonl")
        try "{\"text\": \"mine\"}\n".write(to: notes, atomically: true, encoding: .utf8)
        try expectFailure(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", notes.path], mentioning: "--overwrite")
        XCTAssertEqual(try String(contentsOf: notes, encoding: .utf8), "{\"text\": \"mine\"}\n")
        let triplets = dir.appendingPathComponent("triplets.jsonl")
        try "{\"anchor\": \"a\", \"positive\": \"b\", \"negative\": \"c\", \"source\": \"hand-made\"}\n".write(to: triplets, atomically: true, encoding: .utf8)
        try expectFailure(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", triplets.path], mentioning: "--overwrite")
        let forced = try ember(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", notes.path, "--overwrite"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(try readRows(notes).allSatisfy { $0["negative"] != nil })
    }

    /// The encoding batch does not change what is mined (SEMANTICS.md M16), and prompts reach the encoder.
    func testBatchSizeIndependenceAndPrompts() throws {
        let dir = try temporaryFolder()
        let pairs = try writePairs(dir)
        func run(_ name: String, _ extra: [String]) throws -> [[String: Any]] {
            let out = dir.appendingPathComponent(name)
            let r = try ember(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", out.path,
                               "--output-format", "n-tuple", "--output-scores"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try readRows(out)
        }
        let one = try run("b1.jsonl", ["--batch-size", "1"]), many = try run("b32.jsonl", ["--batch-size", "32"])
        XCTAssertEqual(one.count, many.count)
        XCTAssertFalse(one.isEmpty)
        for (a, b) in zip(one, many) {
            for key in ["question", "answer", "negative_1", "negative_2", "negative_3"] {
                XCTAssertEqual(a[key] as? String, b[key] as? String, key)
            }
            for (x, y) in zip(a["scores"] as! [Double], b["scores"] as! [Double]) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        }
        let prompted = try run("prompted.jsonl", ["--query-prompt", "query: ", "--corpus-prompt", "passage: "])
        let plainScores = many.map { ($0["scores"] as! [Double])[0] }, promptedScores = prompted.map { ($0["scores"] as! [Double])[0] }
        XCTAssertEqual(plainScores.count, promptedScores.count)
        XCTAssertTrue(zip(plainScores, promptedScores).contains { abs($0 - $1) > 1e-4 }, "the prompts change the embeddings")
        XCTAssertEqual(prompted.first?["question"] as? String, rows[0].0, "prompts are not written into the rows")
    }

    /// --cache-folder: the first run writes one file per side, the second loads them and mines the same
    /// rows; another prompt is another key (a new file, the old one kept); a damaged file is refused.
    func testCacheFolderIsReusedAndKeyedByPrompt() throws {
        let dir = try temporaryFolder()
        let pairs = try writePairs(dir)
        let cache = dir.appendingPathComponent("cache")
        func run(_ out: String, _ extra: [String] = []) throws -> EmberResult {
            try ember(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", dir.appendingPathComponent(out).path,
                       "--cache-folder", cache.path, "--output-scores"] + extra)
        }
        let first = try run("first.jsonl")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("[Cache] Saved corpus embeddings to"), first.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path).sorted()
        XCTAssertEqual(files.count, 2)
        XCTAssertTrue(files[0].hasPrefix("corpus_embeddings_") && files[1].hasPrefix("query_embeddings_"), "\(files)")
        let second = try run("second.jsonl")
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("[Cache] Loaded query embeddings from"), second.stderr)
        XCTAssertFalse(second.stderr.contains("[Cache] Saved"), second.stderr)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("first.jsonl")), try Data(contentsOf: dir.appendingPathComponent("second.jsonl")))

        let prompted = try run("prompted.jsonl", ["--query-prompt", "query: "])
        XCTAssertEqual(prompted.status, 0, prompted.stderr)
        XCTAssertTrue(prompted.stderr.contains("[Cache] Saved query embeddings"), "a new key for the new prompt")
        XCTAssertTrue(prompted.stderr.contains("[Cache] Loaded corpus embeddings"), "the corpus key is unchanged")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.path).count, 3)

        try Data("damaged".utf8).write(to: cache.appendingPathComponent(files[1]))
        try expectFailure(["mine", "--model", CLITests.tinyBert, "--data", pairs.path, "--output", dir.appendingPathComponent("x.jsonl").path,
                           "--cache-folder", cache.path, "--output-scores"], mentioning: "--cache-folder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.jsonl").path))
    }
}
