import Foundation
import XCTest

/// `ember report RUN_DIR`: rebuilds the report of a run (a killed one too) from its metrics log, and never
/// replaces a report.html it did not write.
final class ReportCLITests: XCTestCase {
    static let log = """
    {"step":0,"eval":{"384":{"ndcg@10":0.41}}}
    {"step":1,"epoch":0.5,"loss":2.25,"lr":1e-05,"grad_norm":3.5,"pairs_per_s":12.5,"seconds":1.5}
    {"step":2,"epoch":1,"loss":1.75,"lr":2e-05,"grad_norm":2.5,"pairs_per_s":13.5,"seconds":3}
    {"step":2,"eval":{"384":{"ndcg@10":0.52}}}

    """

    func testWritesReportFromMetricsAndRunMarker() throws {
        let run = try temporaryFolder()
        try Self.log.write(to: run.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        try #"{"tool":"ember","model":"/models/<mini>","data":"pairs.jsonl","started":"2026-01-01T00:00:00Z"}"#
            .write(to: run.appendingPathComponent("ember_run.json"), atomically: true, encoding: .utf8)
        var r = try ember(["report", run.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<meta name=\"generator\" content=\"Ember training report\"/>"))
        XCTAssertTrue(html.contains("/models/&lt;mini&gt;"), "the marker's model is a fact")
        XCTAssertTrue(html.contains("id=\"chart-loss\"") && html.contains("1:2.25 2:1.75"))
        XCTAssertTrue(html.contains("id=\"before-after\""))
        // Its own report is rewritten without --overwrite (a later look at the same run).
        r = try ember(["report", run.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted(), ["ember_run.json", "metrics.jsonl", "report.html"])
    }

    func testMetricsElsewhere() throws {
        let run = try temporaryFolder(), logs = try temporaryFolder()
        let log = logs.appendingPathComponent("train.log")
        try Self.log.write(to: log, atomically: true, encoding: .utf8)
        let r = try ember(["report", run.path, "--metrics", log.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("report.html").path))
    }

    func testRefusesForeignReportAndMissingInputs() throws {
        let run = try temporaryFolder()
        try Self.log.write(to: run.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let report = run.appendingPathComponent("report.html")
        try "<html>my own notes</html>".write(to: report, atomically: true, encoding: .utf8)
        try expectFailure(["report", run.path], mentioning: "\(report.path): exists and was not written by Ember; pass --overwrite")
        XCTAssertEqual(try String(contentsOf: report, encoding: .utf8), "<html>my own notes</html>")
        let r = try ember(["report", run.path, "--overwrite"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(try String(contentsOf: report, encoding: .utf8).contains("Ember training report"))

        let empty = try temporaryFolder()
        try expectFailure(["report", empty.path], mentioning: "\(empty.appendingPathComponent("metrics.jsonl").path): metrics log not found")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty.path), [])
        try expectFailure(["report", empty.appendingPathComponent("nope").path], mentioning: "nope: run folder not found")
        try expectFailure(["report", empty.path, "--metrics", "/nonexistent/m.jsonl"], mentioning: "--metrics /nonexistent/m.jsonl: file not found")
        try "{\"step\":1}\nnot json\n".write(to: empty.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        try expectFailure(["report", empty.path], mentioning: "metrics.jsonl line 2: not a JSON object")
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty.appendingPathComponent("report.html").path))
    }
}
