import Foundation
import XCTest

/// Evaluation during training (`--eval-steps`) changes nothing a resume depends on: a run resumed from
/// a checkpoint ends with the same weights, bit for bit, and logs the evaluations of the steps it ran (not
/// the one before training: it starts at the checkpoint).
final class ResumeWithEvaluationTests: XCTestCase {
    func testResumeWithEvalStepsEqualsTheUninterruptedRun() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl"), sts = dir.appendingPathComponent("sts.jsonl")
        let words = ["the", "a", "is", "of", "and", "to", "in", "short", "text", "anchor", "positive", "negative"]
        try (0..<16).map { i in "{\"anchor\": \"\(words[i % 12]) \(words[(i * 5) % 12]) \(i)\", \"positive\": \"\(words[(i * 7) % 12]) text \(i)\"}" }
            .joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        try (0..<6).map { i in "{\"sentence1\": \"\(words[i]) text\", \"sentence2\": \"\(words[i + 3]) short\", \"score\": \(Double(i) / 5)}" }
            .joined(separator: "\n").write(to: sts, atomically: true, encoding: .utf8)
        let common = ["train", "--model", CLITests.tinyBert, "--data", data.path, "--batch-size", "4", "--max-steps", "6",
                      "--save-steps", "2", "--eval-sts", sts.path, "--eval-steps", "2", "--matryoshka-dims", "32,16", "--seed", "3"]
        let full = dir.appendingPathComponent("full"), resumed = dir.appendingPathComponent("resumed")
        var r = try ember(common + ["--output", full.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try ember(common + ["--output", resumed.path, "--resume", full.appendingPathComponent("checkpoint-2").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: full.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: resumed.appendingPathComponent("model.safetensors")))
        func evalSteps(_ run: URL) throws -> [Int] {
            try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return object["eval"] == nil ? nil : object["step"] as? Int
            }
        }
        XCTAssertEqual(try evalSteps(full), [0, 2, 4, 6], "before training, then every 2 steps")
        XCTAssertEqual(try evalSteps(resumed), [4, 6])
    }
}
