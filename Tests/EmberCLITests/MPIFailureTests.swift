import EmberTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

/// An mpirun job of `ember train` resumes like one process and ends as one: a rank that fails — in setup,
/// mid-step, or killed — ends every rank with a non-zero exit and its error, well within 30 s.
final class MPIFailureTests: XCTestCase {
    func testResumeOfATwoRankRunEqualsTheUninterruptedRunAndNeedsTwoRanks() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("triplets.jsonl")
        try writeTriplets(data)
        let arguments = try common(data, steps: 4, saveSteps: 2) + ["--mini-batch-size", "2"]
        let full = dir.appendingPathComponent("full"), resumed = dir.appendingPathComponent("resumed")
        var r = try runMPI(2, arguments + ["--output", full.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let checkpoint = full.appendingPathComponent("checkpoint-2")
        r = try runMPI(2, arguments + ["--output", resumed.path, "--resume", checkpoint.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try readF32Tensors(full.appendingPathComponent("model.safetensors"))
        let b = try readF32Tensors(resumed.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, w) in a { XCTAssertEqual(w, b[name]!, name) }   // bit for bit
        let start = try readF32Tensors(URL(fileURLWithPath: try minilm()).appendingPathComponent("model.safetensors"))
        XCTAssertNotEqual(a["encoder.layer.0.attention.output.dense.weight"], start["encoder.layer.0.attention.output.dense.weight"])

        // Another number of ranks is refused in one line, before anything is written.
        let other = dir.appendingPathComponent("other")
        r = try runMPI(3, arguments + ["--output", other.path, "--resume", checkpoint.path])
        XCTAssertNotEqual(r.status, 0)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, r.stderr)
        XCTAssertTrue(errors.first?.contains("trained on 2 ranks, this run has 3 ranks; resume with the same number of ranks (mpirun -np 2)") == true, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: other.path))
        try expectFailure(arguments + ["--output", other.path, "--resume", checkpoint.path],
                          mentioning: "trained on 2 ranks, this run has 1 process")
    }

    /// One `error:` line naming `fragment`, a non-zero exit, and `output` never created.
    func assertJobFailed(_ r: EmberResult, mentioning fragment: String, output: URL? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, r.stderr, file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(errors.first?.contains(fragment) == true, "expected '\(fragment)' in: \(r.stderr)", file: file, line: line)
        if let output { XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), output.path, file: file, line: line) }
    }

    func testASetupFailureOnOneRankEndsEveryRankWithThatRanksError() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("triplets.jsonl")
        try writeTriplets(data)
        let out = dir.appendingPathComponent("out")
        let arguments = try common(data) + ["--output", out.path]
        // Rank 1 alone cannot read its data (mpirun's `A : B` form gives it other arguments).
        let missing = dir.appendingPathComponent("missing.jsonl").path
        var r = try runMPI([(1, arguments), (1, arguments.map { $0 == data.path ? missing : $0 })], timeout: 30)
        assertJobFailed(r, mentioning: "rank 1: \(missing)", output: out)
        // Rank 1 was given another learning rate: the ranks would compute different runs.
        r = try runMPI([(1, arguments), (1, arguments + ["--lr", "2e-4"])], timeout: 30)
        assertJobFailed(r, mentioning: "rank 1 was started with other flags, files or weights than rank 0", output: out)
        // Rank 0 alone checks OUTPUT: a folder Ember did not write.
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try "mine".write(to: out.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        r = try runMPI([(2, arguments)], timeout: 30)
        assertJobFailed(r, mentioning: "was not written by Ember")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["notes.txt"])
    }

    func testAnErrorOfRankZeroMidTrainingEndsEveryRank() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("triplets.jsonl")
        try writeTriplets(data)
        let out = dir.appendingPathComponent("out")
        let arguments = try common(data, steps: 3) + ["--output", out.path]
        XCTAssertEqual(try runMPI(2, arguments).status, 0)
        // Resumed from step 1 with its metrics going to a full disk: rank 0 fails writing step 2's line while
        // rank 1 is already in step 3's gather; MPI_Abort ends it.
        let start = Date()
        let r = try runMPI([(2, arguments + ["--resume", out.appendingPathComponent("checkpoint-1").path, "--log", "/dev/full"])], timeout: 30)
        assertJobFailed(r, mentioning: "--log /dev/full: cannot write")
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    func testAKilledRankEndsEveryRankWithin30Seconds() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("triplets.jsonl")
        try writeTriplets(data)
        let out = dir.appendingPathComponent("out")
        // The tiny model runs hundreds of steps a second: the job is certainly mid-step when rank 1 dies.
        let arguments = ["train", "--model", CLITests.tinyBert, "--data", data.path, "--batch-size", "7", "--mini-batch-size", "2",
                         "--max-steps", "1000000", "--dropout", "0.1", "--output", out.path]
        let log = dir.appendingPathComponent("mpirun.log")
        let job = try startMPI([(2, arguments)], output: log)
        defer { if job.isRunning { kill(job.processIdentifier, SIGKILL) } }
        let metrics = out.appendingPathComponent("metrics.jsonl")
        var deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 20 { usleep(50_000) }
        let ranks = rankProcesses(of: job.processIdentifier)
        XCTAssertEqual(Set(ranks.keys), [0, 1], "rank processes under mpirun: \(ranks)")
        guard let victim = ranks[1], let survivor = ranks[0] else { return }
        kill(victim, SIGKILL)
        let killed = Date()
        deadline = killed.addingTimeInterval(30)
        while job.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(job.isRunning, "mpirun still running 30 s after rank 1 was killed")
        job.waitUntilExit()
        XCTAssertNotEqual(job.terminationStatus, 0)
        XCTAssertLessThan(Date().timeIntervalSince(killed), 30)
        XCTAssertNotEqual(kill(survivor, 0) == 0 && !isZombie(survivor), true, "rank 0 (pid \(survivor)) outlived the job")
    }

    func testSeveralProcessesFromAnotherLauncherAreRefused() throws {
        // MPICH's mpiexec and Slurm's srun start N copies with these set: each copy alone would train and
        // write the same OUTPUT. Ember refuses instead.
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("triplets.jsonl")
        try writeTriplets(data)
        for variable in ["PMI_SIZE", "SLURM_STEP_NUM_TASKS"] {
            let process = Process()
            process.executableURL = emberExecutable()
            process.arguments = ["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", dir.appendingPathComponent("out").path]
            var environment = ProcessInfo.processInfo.environment
            environment[variable] = "2"
            process.environment = environment
            let err = Pipe()
            process.standardError = err
            try process.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 1, text)
            XCTAssertEqual(text.split(separator: "\n").count, 1, text)
            XCTAssertTrue(text.hasPrefix("error: this process is one of several (\(variable)=2) started by a launcher other than Open MPI's mpirun"), text)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
        }
    }

    /// The `ember` processes started under mpirun `pid`, by their rank (OMPI_COMM_WORLD_RANK).
    func rankProcesses(of pid: Int32) -> [Int: Int32] {
        var found: [Int: Int32] = [:]
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in all {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == pid,
                  let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            for variable in environ.split(separator: 0) {
                let text = String(decoding: variable, as: UTF8.self)
                if text.hasPrefix("OMPI_COMM_WORLD_RANK="), let rank = Int(text.dropFirst(21)) { found[rank] = child }
            }
        }
        return found
    }

    func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}
