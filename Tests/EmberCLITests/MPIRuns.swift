import EmberTestSupport
import Foundation
import XCTest

/// Running `ember` under mpirun from the tests, and the small training set they share.
struct MPIRunMissing: Error, CustomStringConvertible {
    var description: String { "CI is set and mpirun is missing (make deps installs openmpi-bin)" }
}

extension XCTestCase {
    /// mpirun from Debian's openmpi-bin; skipped where it is missing, except under CI (make test installs it).
    func mpirun() throws -> URL {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(dir)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        if MiniLMFolder.isCI(ProcessInfo.processInfo.environment) { throw MPIRunMissing() }
        throw XCTSkip("mpirun is not installed (make deps installs openmpi-bin)")
    }

    /// Starts mpirun with one `ember` argument list per group of ranks (`[(2, args)]` is `-np 2 ember args`;
    /// several groups use mpirun's `A : B` form, so one rank can be given other arguments).
    func startMPI(_ groups: [(ranks: Int, arguments: [String])], output: URL) throws -> Process {
        let process = Process()
        process.executableURL = try mpirun()
        var arguments = ["--oversubscribe"]
        for (i, group) in groups.enumerated() {
            if i > 0 { arguments.append(":") }
            arguments += ["-np", "\(group.ranks)", emberExecutable().path] + group.arguments
        }
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"            // the CI machine runs as root
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        process.environment = environment
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
        return process
    }

    /// Runs mpirun to its end (at most `timeout` seconds, else the test fails and the job is killed).
    func runMPI(_ groups: [(ranks: Int, arguments: [String])], timeout: TimeInterval = 240) throws -> EmberResult {
        let log = try temporaryFolder().appendingPathComponent("mpirun.log")
        let process = try startMPI(groups, output: log)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            XCTFail("mpirun still running after \(Int(timeout)) s: \(groups)")
        }
        process.waitUntilExit()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return EmberResult(status: process.terminationStatus, stdout: "", stderr: text)
    }

    func runMPI(_ ranks: Int, _ arguments: [String]) throws -> EmberResult { try runMPI([(ranks, arguments)]) }

    /// 14 triplets (anchor, positive, hard negative) of different lengths.
    func writeTriplets(_ url: URL) throws {
        let words = ["the", "cat", "dog", "sat", "on", "mat", "a", "hello", "world", "is", "near", "end", "of", "it", "all", "red", "blue"]
        func text(_ i: Int, _ a: Int, _ b: Int, _ n: Int) -> String { (0..<n).map { words[(i * a + $0 * b) % words.count] }.joined(separator: " ") }
        let lines = (0..<14).map { i in
            "{\"anchor\": \"\(text(i, 3, 5, 2 + i % 4)) \(i)\", \"positive\": \"\(text(i, 7, 2, 3 + i % 5)) p\(i)\", \"negative\": \"\(text(i, 11, 3, 2 + i % 3)) n\(i)\"}"
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func minilm() throws -> String { try MiniLMFolder.require().path }

    /// `steps` optimiser steps of batch 7 by default (shards 3–4 on 2 ranks, 2–3 on 3), dropout 0.1, a checkpoint
    /// every `saveSteps`.
    func common(_ data: URL, steps: Int = 2, saveSteps: Int = 1, batch: Int = 7) throws -> [String] {
        ["train", "--model", try minilm(), "--data", data.path, "--batch-size", "\(batch)", "--max-steps", "\(steps)", "--save-steps", "\(saveSteps)",
         "--lr", "1e-4", "--warmup-steps", "0", "--dropout", "0.1", "--seed", "3"]
    }
}
