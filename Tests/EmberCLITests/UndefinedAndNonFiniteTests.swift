import Foundation
import XCTest

/// What Ember writes when a number is undefined or not finite: JSON null with a warning naming the file
/// (never `nan`, never a crash), skipped steps counted, and the weights left as they were.
final class UndefinedAndNonFiniteTests: XCTestCase {
    func write(_ dir: URL, _ name: String, _ lines: [String]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testConstantSTSScoresAreNullWithAWarning() throws {
        let dir = try temporaryFolder()
        let sts = try write(dir, "sts.jsonl", ["{\"sentence1\": \"a b\", \"sentence2\": \"c\", \"score\": 2}",
                                                "{\"sentence1\": \"the cat\", \"sentence2\": \"d e\", \"score\": 2}"])
        let out = dir.appendingPathComponent("m.json").path
        let r = try ember(["evaluate", "--model", CLITests.tinyBert, "--sts", sts, "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("warning: \(sts): pearson and spearman undefined at dimension 32"), r.stderr)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(text.lowercased().contains("nan"), text)
        let metrics = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: [String: Any]]
        XCTAssertTrue(metrics["32"]!["pearson"] is NSNull)
        XCTAssertTrue(metrics["32"]!["spearman"] is NSNull)
    }

    func testRetrievalCountsMissingJudgementsAndLeavesOutUnanswerableQueries() throws {
        let dir = try temporaryFolder()
        let queries = try write(dir, "q.jsonl", ["{\"id\": \"q1\", \"text\": \"the cat\"}", "{\"id\": \"q2\", \"text\": \"x y\"}"])
        let corpus = try write(dir, "c.jsonl", ["{\"id\": \"d1\", \"text\": \"the cat\"}", "{\"id\": \"d2\", \"text\": \"z\"}"])
        // q1: d1 (in the corpus, identical text: ranked first) and d9 (missing: counts, never found);
        // q2: only missing documents → undefined, left out with a warning.
        let qrels = try write(dir, "r.jsonl", ["{\"query_id\": \"q1\", \"corpus_id\": \"d1\"}", "{\"query_id\": \"q1\", \"corpus_id\": \"d9\", \"score\": 1}",
                                               "{\"query_id\": \"q2\", \"corpus_id\": \"d8\", \"score\": 1}"])
        let r = try ember(["evaluate", "--model", CLITests.tinyBert, "--queries", queries, "--corpus", corpus, "--qrels", qrels])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: \(qrels): 1 query has no relevant document in the corpus (q2); left out of the metrics as undefined\n"), r.stderr)
        let metrics = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [String: Double]]
        let m = metrics["32"]!
        XCTAssertEqual(m["accuracy@1"], 1)
        XCTAssertEqual(m["recall@1"], 0.5, "d9 counts in the denominator, as the reference counts it")
        XCTAssertEqual(m["recall@10"], 0.5)
        XCTAssertEqual(m["mrr@10"], 1)
        XCTAssertEqual(m["map@100"]!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(m["ndcg@10"]!, 1 / (1 + 1 / log2(3)), accuracy: 1e-12)

        // Only unanswerable queries: every metric is null.
        let none = try write(dir, "r2.jsonl", ["{\"query_id\": \"q2\", \"corpus_id\": \"d8\", \"score\": 1}"])
        let all = try ember(["evaluate", "--model", CLITests.tinyBert, "--queries", queries, "--corpus", corpus, "--qrels", none])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertTrue(all.stderr.contains("every metric is undefined (null)"), all.stderr)
        let nulls = try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as! [String: [String: Any]]
        XCTAssertEqual(nulls["32"]!.count, 15)
        XCTAssertTrue(nulls["32"]!.values.allSatisfy { $0 is NSNull })
    }

    func testNonFiniteStepsStopTheRunOrAreSkipped() throws {
        let dir = try temporaryFolder()
        let data = try write(dir, "d.jsonl", ["{\"anchor\": \"the cat\", \"positive\": \"a dog\"}", "{\"anchor\": \"x y\", \"positive\": \"z\"}"])
        let out = dir.appendingPathComponent("run")
        // A scale of 1e300 overflows Float gradients as soon as a row is misranked.
        let base = ["train", "--model", CLITests.tinyBert, "--data", data, "--output", out.path, "--max-steps", "4", "--scale", "1e300", "--lr", "1"]
        let stopped = try ember(base)
        XCTAssertNotEqual(stopped.status, 0)
        let message = stopped.stderr.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(message.hasPrefix("error: training stopped at step "), stopped.stderr)
        XCTAssertTrue(message.contains("is NaN") || message.contains("infinity"), message)
        let failedStep = Int(message.dropFirst("error: training stopped at step ".count).prefix { $0.isNumber })!
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path), "nothing saved")
        let logged = (try? String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8))?.split(separator: "\n").count ?? 0
        XCTAssertEqual(logged, failedStep - 1, "the steps before the failure are logged")

        let skipped = try ember(base + ["--skip-nonfinite", "--overwrite"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        var count = 0
        for (i, line) in lines.enumerated() {
            XCTAssertFalse(line.lowercased().contains("nan"), String(line))
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let skippedHere = object["skipped"] as? Bool == true
            if i + 1 < failedStep { XCTAssertFalse(skippedHere, String(line)) }
            if i + 1 == failedStep { XCTAssertTrue(skippedHere, String(line)) }
            if skippedHere { count += 1; XCTAssertTrue(object["loss"] is NSNull || object["grad_norm"] is NSNull, String(line)) }
            XCTAssertEqual(object["skipped_steps"] as? Int, count == 0 ? nil : count, String(line))
        }
        // The saved weights are the last finite ones: the folder loads and encodes.
        let texts = try write(dir, "t.txt", ["the cat"])
        let encoded = try ember(["encode", "--model", out.path, "--input", texts, "--output", dir.appendingPathComponent("e.jsonl").path])
        XCTAssertEqual(encoded.status, 0, encoded.stderr)
    }
}
