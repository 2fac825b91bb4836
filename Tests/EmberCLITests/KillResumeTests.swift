import Foundation
import XCTest

/// A real `ember train` killed (SIGKILL) at random moments — in a step, a checkpoint save, the final
/// save — and then run again as a user would: resumed from its newest checkpoint when one is there,
/// else started over with --overwrite. The next run must succeed, leave no temporary folder anywhere,
/// and end with weights bit-identical to an uninterrupted run's.
final class KillResumeTests: XCTestCase {
    func testKilledRunsResumeToTheUninterruptedWeights() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        // Rows of tiny-bert's real vocabulary (letters and words), all distinct.
        var generator = SplitMix(seed: 11)
        let words = "a b c d e f g h i j k l m n o p q r s t u v w x y z the is of and to in short text".split(separator: " ")
        func text() -> String { (0..<(3 + Int(generator.next() % 6))).map { _ in String(words[Int(generator.next() % UInt64(words.count))]) }.joined(separator: " ") }
        let rows = (0..<64).map { i in "{\"anchor\": \"\(text()) \(i)\", \"positive\": \"\(text()) \(i)\"}" }
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

        for k in 0..<6 {
            let output = dir.appendingPathComponent("run-\(k)")
            // Spread the kills over the whole run, from loading to the final save.
            let delay = duration * (0.15 + 0.8 * Double(k) / 5) + Double(generator.next() % 1000) / 1e5
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
        var products = Bundle(for: KillResumeTests.self).bundleURL.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: products.appendingPathComponent("ember").path) {
            products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        }
        let process = Process()
        process.executableURL = products.appendingPathComponent("ember")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: seconds)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
