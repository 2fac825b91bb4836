@testable import EmberCLI
import Foundation
import XCTest

/// `--load-best-model-at-end`, `--metric-for-best-model` and `--save-total-limit` on a tiny run whose
/// evaluations are all in the metrics log, so the best step is known.
final class BestModelTests: XCTestCase {
    func lines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func makeData(_ dir: URL) throws -> (data: String, sts: String) {
        let words = ["the", "a", "is", "of", "and", "to", "in", "short", "text", "anchor", "positive", "negative"]
        let data = dir.appendingPathComponent("pairs.jsonl"), sts = dir.appendingPathComponent("sts.jsonl")
        try (0..<16).map { i in "{\"anchor\": \"\(words[i % 12]) \(words[(i * 5) % 12]) \(i)\", \"positive\": \"\(words[(i * 7) % 12]) text \(i)\"}" }
            .joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        try (0..<8).map { i in "{\"sentence1\": \"\(words[i]) text \(words[i + 2])\", \"sentence2\": \"\(words[i + 3]) short\", \"score\": \(Double((i * 3) % 8) / 7)}" }
            .joined(separator: "\n").write(to: sts, atomically: true, encoding: .utf8)
        return (data.path, sts.path)
    }

    func testTheBestCheckpointBecomesTheModelAndPruningKeepsIt() throws {
        let dir = try temporaryFolder()
        let (data, sts) = try makeData(dir)
        let out = dir.appendingPathComponent("run")
        // A large learning rate makes the tiny model's STS correlation wander, so the best step is
        // somewhere in the middle rather than at the end.
        let r = try ember(["train", "--model", CLITests.tinyBert, "--data", data, "--output", out.path, "--batch-size", "4",
                           "--max-steps", "8", "--lr", "3e-3", "--warmup-steps", "0", "--eval-sts", sts, "--eval-steps", "1",
                           "--eval-dims", "32,16", "--load-best-model-at-end", "--metric-for-best-model", "16:spearman",
                           "--save-total-limit", "2", "--seed", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let log = try lines(out.appendingPathComponent("metrics.jsonl"))
        let evals = log.compactMap { line -> (Int, Double)? in
            guard let e = line["eval"] as? [String: [String: Double]] else { return nil }
            return (line["step"] as! Int, e["16"]!["spearman"]!)
        }
        XCTAssertEqual(evals.map(\.0), Array(0...8))
        // Candidates: the checkpoints (steps 1…7) and the final model (8); the first maximum wins.
        var best = evals[1]
        for e in evals[2...] where e.1 > best.1 { best = e }
        XCTAssertNotEqual(best.0, 8, "the run must have a best step before the end for this test to mean anything: \(evals)")
        let bestLine = try XCTUnwrap(log.last?["best"] as? [String: Any], "the log ends with the best-model line")
        XCTAssertEqual(bestLine["step"] as? Int, best.0)
        XCTAssertEqual(bestLine["dim"] as? Int, 16)
        XCTAssertEqual(bestLine["value"] as? Double ?? .nan, best.1, accuracy: 1e-12)
        XCTAssertTrue(r.stderr.contains("best model: checkpoint-\(best.0)"), r.stderr)
        // The model in OUTPUT is the best checkpoint's, byte for byte, and evaluates as it did.
        let checkpoint = out.appendingPathComponent("checkpoint-\(best.0)")
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: checkpoint.appendingPathComponent("model.safetensors")))
        let e = try ember(["evaluate", "--model", out.path, "--sts", sts, "--truncate-dims", "16"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let final = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: [String: Double]]
        XCTAssertEqual(final["16"]?["spearman"] ?? .nan, best.1, accuracy: 1e-9)
        // The card and report in OUTPUT describe the kept model: its evaluation is the best step's.
        let card = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        let values = card.split(separator: "\n").compactMap { line -> Double? in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("value: ") ? Double(t.dropFirst(7)) : nil
        }
        XCTAssertTrue(values.contains { abs($0 - best.1) < 1e-12 }, "the card's model-index holds the kept step's spearman: \(values)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.html").path))
        // --save-total-limit 2: the two newest checkpoints, and the best one.
        let kept = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix("checkpoint-") }
        XCTAssertEqual(Set(kept), Set(["checkpoint-6", "checkpoint-7", "checkpoint-\(best.0)"]))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: out.path).contains { $0.hasPrefix(".") }, "no leftovers of pruning")
    }

    func testSaveTotalLimitWithoutEvaluationKeepsTheNewest() throws {
        let dir = try temporaryFolder()
        let (data, _) = try makeData(dir)
        let out = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let r = try ember(["train", "--model", CLITests.tinyBert, "--data", data, "--output", out.path, "--batch-size", "4",
                           "--max-steps", "7", "--save-steps", "2", "--save-total-limit", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kept = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix("checkpoint-") || $0.hasPrefix(".") }
        XCTAssertEqual(kept, ["checkpoint-6"])
    }

    func testFlagErrors() throws {
        let dir = try temporaryFolder()
        let (data, sts) = try makeData(dir)
        let base = ["train", "--model", CLITests.tinyBert, "--data", data, "--output", dir.appendingPathComponent("x").path, "--max-steps", "2"]
        let cases: [([String], String)] = [
            (["--load-best-model-at-end"], "need --eval-sts"),
            (["--eval-sts", sts, "--load-best-model-at-end"], "needs --eval-steps"),
            (["--eval-sts", sts, "--eval-steps", "2", "--save-steps", "3", "--load-best-model-at-end"], "multiple of --eval-steps"),
            (["--eval-sts", sts, "--eval-steps", "1", "--load-best-model-at-end", "--metric-for-best-model", "ndcg@10"], "unknown metric 'ndcg@10'"),
            (["--eval-sts", sts, "--eval-steps", "1", "--load-best-model-at-end", "--metric-for-best-model", "7:spearman"], "evaluated ones"),
            (["--eval-sts", sts, "--metric-for-best-model", "spearman"], "needs --load-best-model-at-end"),
            (["--save-total-limit", "0"], "--save-total-limit must be at least 1"),
        ]
        for (extra, message) in cases {
            let r = try ember(base + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(message), "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path))
        }
    }
}

/// The terminal progress line never exceeds the terminal (a wider line wraps and every redraw then
/// prints a new line), and what it drops to fit is the least important.
final class ProgressLineTests: XCTestCase {
    let fields = ["loss 0.4123", "384:0.412 256:0.431 128:0.470 64:0.520 32:0.611", "123.4 pairs/s", "lr 2.00e-05"]

    func testFitsEveryWidthAndDropsFieldsFromTheEnd() {
        for width in [20, 40, 60, 80, 100, 120, 160, 240] {
            let line = ProgressBar.fit(label: "train", done: 120, total: 5000, rate: 3.2, unit: "steps", fields: fields, width: width)
            XCTAssertLessThanOrEqual(line.count, width - 1, "width \(width): \(line)")
            XCTAssertTrue(line.hasPrefix("train"), line)
            // Fields kept are a prefix of the list: the least important go first.
            let kept = fields.filter { line.contains($0) }
            XCTAssertEqual(kept, Array(fields.prefix(kept.count)), "width \(width): \(line)")
            if width >= 120 { XCTAssertTrue(line.contains(fields[1]), "the per-dimension losses fit at 120 columns: \(line)") }
            if width >= 80 { XCTAssertTrue(line.contains("loss 0.4123") && line.contains("120/5000"), line) }
        }
        let wide = ProgressBar.fit(label: "train", done: 50, total: 100, rate: 1, unit: "steps", fields: fields, width: 400)
        XCTAssertEqual(wide.filter { $0 == "█" || $0 == "·" }.count, 30, "the bar is at most 30 columns")
        XCTAssertEqual(wide.filter { $0 == "█" }.count, 15, "half done, half the bar")
    }
}
