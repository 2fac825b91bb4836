import EmberTestSupport
import Foundation
import XCTest

/// `ember train` leaves a README.md model card (and report.html) in the final folder and in every checkpoint; PyYAML reads
/// its front matter, and the numbers in it are the run's own (metrics.jsonl, the final evaluation line).
final class ModelCardCLITests: XCTestCase {
    /// metrics.jsonl read with a parser that keeps every digit (the card must carry these exact values).
    struct Line: Decodable {
        let step: Int
        let loss: Double?
        let epoch: Double?
        let eval: [String: [String: Double?]]?
    }

    func testEverySavedFolderHasACardWithTheRunsNumbers() throws {
        let dir = try temporaryFolder()
        // The start model: tiny-bert with a model card naming its Hugging Face id, as hub downloads have.
        let base = dir.appendingPathComponent("base")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: CLITests.tinyBert), to: base)
        try "# tiny\n\n```python\nmodel = SentenceTransformer('someone/tiny-bert-test')\n```\n"
            .write(to: base.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let data = dir.appendingPathComponent("pairs.jsonl"), sts = dir.appendingPathComponent("sts.jsonl")
        let words = ["the", "a", "is", "of", "and", "to", "in", "short", "text", "anchor", "positive", "negative"]
        try (0..<16).map { i in "{\"anchor\": \"\(words[i % 12]) \(words[(i * 5) % 12]) | \(i)\", \"positive\": \"\(words[(i * 7) % 12]) text \(i)\"}" }
            .joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        try (0..<6).map { i in "{\"sentence1\": \"\(words[i]) text\", \"sentence2\": \"\(words[i + 3]) short\", \"score\": \(Double(i) / 5)}" }
            .joined(separator: "\n").write(to: sts, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let r = try ember(["train", "--model", base.path, "--data", data.path, "--output", out.path, "--batch-size", "4",
                           "--max-steps", "6", "--save-steps", "2", "--eval-sts", sts.path, "--eval-steps", "4",
                           "--matryoshka-dims", "32,16", "--mini-batch-size", "2", "--seed", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)

        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        let evaluations = Dictionary(lines.compactMap { line in line.eval.map { (line.step, $0) } }, uniquingKeysWith: { $1 })
        XCTAssertEqual(evaluations.keys.sorted(), [0, 4, 6])   // before training, --eval-steps 4, final
        let stepLines = lines.filter { $0.eval == nil }

        for (folder, step) in [(out, 6), (out.appendingPathComponent("checkpoint-2"), 2), (out.appendingPathComponent("checkpoint-4"), 4)] {
            let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
            let report = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
            XCTAssertTrue(report.contains("Ember training report"), folder.path)
            let yaml = try YAMLFrontMatter.parseFrontMatter(card)
            XCTAssertEqual(yaml["library_name"] as? String, "sentence-transformers")
            XCTAssertEqual(yaml["pipeline_tag"] as? String, "sentence-similarity")
            XCTAssertEqual(yaml["base_model"] as? String, "someone/tiny-bert-test")
            let tags = try XCTUnwrap(yaml["tags"] as? [String])
            for tag in ["sentence-transformers", "sentence-similarity", "feature-extraction",
                        "loss:MatryoshkaLoss", "loss:CachedMultipleNegativesRankingLoss", "dataset_size:16"] {
                XCTAssertTrue(tags.contains(tag), "\(folder.lastPathComponent): missing tag \(tag) in \(tags)")
            }
            XCTAssertTrue(card.contains("\"matryoshka_dims\": [32, 16]") && card.contains("\"mini_batch_size\": 2"), folder.path)
            // model-index: exactly the evaluation of this folder's weights (none for checkpoint-2).
            if let expected = evaluations[step] {
                let results = try XCTUnwrap(((yaml["model-index"] as? [[String: Any]])?.first?["results"]) as? [[String: Any]], folder.path)
                XCTAssertEqual(results.count, expected.count)
                for result in results {
                    XCTAssertEqual((result["task"] as? [String: String])?["type"], "semantic-similarity")
                    let type = try XCTUnwrap((result["dataset"] as? [String: String])?["type"])
                    let dim = String(type.dropFirst("dim_".count))
                    let metrics = try XCTUnwrap(result["metrics"] as? [[String: Any]])
                    XCTAssertEqual(Set(metrics.compactMap { $0["type"] as? String }), ["pearson_cosine", "spearman_cosine"])
                    for metric in metrics {
                        let name = String((metric["type"] as! String).dropLast("_cosine".count))
                        XCTAssertEqual(metric["value"] as? Double, expected[dim]?[name] ?? nil, "\(folder.lastPathComponent) dim \(dim) \(name)")
                    }
                }
            } else {
                XCTAssertNil(yaml["model-index"], folder.path)
            }
            // The training log: one row per step here (6 steps), the loss of each step as metrics.jsonl has it.
            for line in stepLines where line.step <= step {
                let row = "| \(String(format: "%.4f", line.epoch!)) | \(line.step) | \(String(format: "%.4f", line.loss!)) |"
                XCTAssertTrue(card.contains(row), "\(folder.lastPathComponent): no row \(row)")
            }
            XCTAssertFalse(card.contains("| \(step + 1) |"), "\(folder.lastPathComponent): a later step in its log")
            // The data sample keeps its pipe inside the table cell.
            XCTAssertTrue(card.contains("<code>the the \\| 0</code>"), folder.path)
        }
        // A checkpoint with its card still loads and encodes.
        let texts = dir.appendingPathComponent("t.txt")
        try "a text\n".write(to: texts, atomically: true, encoding: .utf8)
        let encoded = try ember(["encode", "--model", out.appendingPathComponent("checkpoint-2").path, "--input", texts.path,
                                 "--output", dir.appendingPathComponent("e.jsonl").path])
        XCTAssertEqual(encoded.status, 0, encoded.stderr)
    }

    func testWithoutAHubIDTheBaseModelIsTheFolder() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl"), out = dir.appendingPathComponent("out")
        try (0..<4).map { "{\"anchor\": \"anchor \($0)\", \"positive\": \"text \($0)\"}" }.joined(separator: "\n")
            .write(to: data, atomically: true, encoding: .utf8)
        let r = try ember(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", out.path, "--batch-size", "4",
                           "--max-steps", "1", "--loss", "mnrl-symmetric"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let yaml = try YAMLFrontMatter.parseFrontMatter(try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8))
        XCTAssertEqual(yaml["base_model"] as? String, URL(fileURLWithPath: CLITests.tinyBert).resolvingSymlinksInPath().path)
        XCTAssertTrue((yaml["tags"] as? [String] ?? []).contains("loss:MultipleNegativesSymmetricRankingLoss"))
        XCTAssertNil(yaml["model-index"])
    }
}
