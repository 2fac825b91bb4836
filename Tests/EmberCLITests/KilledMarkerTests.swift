import EmberTestSupport
import Foundation
import XCTest

/// A run killed while it creates and marks its output folder leaves either nothing, or the folder with
/// its marker, or a leftover of the marker's own atomic write — never a folder the next run takes for a
/// foreign one (KillResumeTests once hit this state by chance; here it is built by hand).
final class KilledMarkerTests: XCTestCase {
    func testAMarkerLeftoverIsNotForeignContent() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        try (0..<8).map { "{\"anchor\": \"the cat \($0)\", \"positive\": \"a dog \($0)\"}" }.joined(separator: "\n")
            .write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let leftover = ".ember_run.json.tmp-\(try Processes.deadPID())-12345"
        try Data("{\"tool\": \"em".utf8).write(to: out.appendingPathComponent(leftover))   // killed mid-write
        let r = try runEmber(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", out.path,
                              "--batch-size", "4", "--max-steps", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
        XCTAssertTrue(names.contains("ember_run.json") && names.contains("model.safetensors"), "\(names)")
        XCTAssertFalse(names.contains(leftover), "the leftover is removed")
        // A hidden file that is not a leftover of Ember's (or of a running process) is still foreign content.
        let other = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: other.appendingPathComponent(".ember_run.json.tmp-\(getpid())-1"))
        let refused = try runEmber(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", other.path,
                                    "--batch-size", "4", "--max-steps", "1"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("was not written by Ember"), refused.stderr)
    }
}
