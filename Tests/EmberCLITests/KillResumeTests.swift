import Foundation
import XCTest

/// A real `ember train` killed (SIGKILL) nine times at moments spread over the run — in a step, a checkpoint save, the final
/// save — and then run again as a user would: resumed from its newest checkpoint when one is there,
/// else started over with --overwrite. The next run must succeed, leave no temporary folder anywhere,
/// and end with weights bit-identical to an uninterrupted run's.
final class KillResumeTests: XCTestCase {
    func testKilledRunsResumeToTheUninterruptedWeights() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        // Rows of tiny-bert's real vocabulary (letters and words) of 3 to 8 words, all distinct.
        let words = "a b c d e f g h i j k l m n o p q r s t u v w x y z the is of and to in short text".split(separator: " ")
        func text(_ i: Int, _ salt: Int) -> String {
            (0..<(3 + (i * 7 + salt) % 6)).map { String(words[(i * 13 + $0 * 5 + salt * 3) % words.count]) }.joined(separator: " ")
        }
        let rows = (0..<64).map { i in "{\"anchor\": \"\(text(i, 1)) \(i)\", \"positive\": \"\(text(i, 2)) \(i)\"}" }
        try (rows.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        func arguments(_ output: URL) -> [String] {
            ["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", output.path, "--batch-size", "8",
             "--max-steps", "48", "--save-steps", "2", "--seed", "5", "--mini-batch-size", "3"]
        }

        let reference = dir.appendingPathComponent("reference")
        let start = Date()
        let clean = try runEmber(arguments(reference))
        XCTAssertEqual(clean.status, 0, clean.stderr)
        let duration = Date().timeIntervalSince(start)
        let expected = try Data(contentsOf: reference.appendingPathComponent("model.safetensors"))

        // Spread over the whole run, from loading to the final save (the last fractions aim at the final save;
        // AtomicFolderTests builds each state a killed save can leave deterministically).
        let fractions = [0.15, 0.31, 0.47, 0.63, 0.79, 0.9, 0.95, 0.98, 0.995]
        for (k, fraction) in fractions.enumerated() {
            let output = dir.appendingPathComponent("run-\(k)")
            let delay = duration * fraction + Double.random(in: 0..<0.005)
            try killAfter(delay, arguments(output))
            let left = try [dir, output].flatMap { folder in
                ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.contains(".tmp-") || $0.contains(".old-") }
            }
            print("run \(k): killed after \(String(format: "%.3f", delay)) s of \(String(format: "%.3f", duration)); leftovers: \(left)")
            let checkpoints = ((try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? [])
                .filter { $0.hasPrefix("checkpoint-") }.compactMap { Int($0.dropFirst("checkpoint-".count)) }.sorted()
            let next = try runEmber(arguments(output) + (checkpoints.last.map { ["--resume", output.appendingPathComponent("checkpoint-\($0)").path] } ?? ["--overwrite"]))
            XCTAssertEqual(next.status, 0, "run \(k) (killed after \(delay) s, resumed from \(checkpoints.last.map(String.init) ?? "scratch")): \(next.stderr)")
            let leftovers = try [dir, output].flatMap { folder in
                try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") || $0.contains(".old-") }
            }
            XCTAssertEqual(leftovers, [], "run \(k): temporary folders survived the next run")
            let weights = try Data(contentsOf: output.appendingPathComponent("model.safetensors"))
            XCTAssertTrue(weights == expected, "run \(k) (killed after \(delay) s, resumed from \(checkpoints.last.map(String.init) ?? "scratch")): weights differ from the uninterrupted run's")
        }
    }

    /// Starts `ember arguments` and kills it with SIGKILL after `seconds` (if it is still running).
    func killAfter(_ seconds: Double, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = emberExecutable()
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: seconds)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
