@testable import EmberReport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

final class TrainingReportTests: XCTestCase {
    /// Ten steps with Matryoshka losses (step 4 skipped as non-finite) and evaluations at steps 0, 5, 10.
    static let logText: String = {
        var lines = ["{\"step\":0,\"eval\":{\"384\":{\"ndcg@10\":0.4123,\"mrr@10\":0.3811},\"128\":{\"ndcg@10\":0.3502,\"mrr@10\":null}}}"]
        for step in 1...10 {
            if step == 4 {
                lines.append("{\"step\":4,\"epoch\":0.4,\"loss\":null,\"skipped\":true,\"lr\":4e-06,\"grad_norm\":null,\"pairs_per_s\":20.5,\"seconds\":4.2}")
                continue
            }
            let loss = 3.0 - 0.125 * Double(step)
            lines.append("{\"step\":\(step),\"epoch\":\(Double(step) / 10),\"loss\":\(loss),\"losses\":{\"384\":\(loss - 1),\"128\":\(loss - 0.75),\"32\":\(loss + 1.75)},\"lr\":\(Double(step) * 1e-6),\"grad_norm\":\(Double(step) + 0.25),\"pairs_per_s\":\(20 + Double(step)),\"seconds\":\(Double(step) * 1.05)}")
            if step == 5 { lines.append("{\"step\":5,\"eval\":{\"384\":{\"ndcg@10\":0.5012,\"mrr@10\":0.4444},\"128\":{\"ndcg@10\":0.4401,\"mrr@10\":0.3999}}}") }
        }
        lines.append("{\"step\":10,\"eval\":{\"384\":{\"ndcg@10\":0.5678,\"mrr@10\":0.5001},\"128\":{\"ndcg@10\":0.5123,\"mrr@10\":0.4567}}}")
        return lines.joined(separator: "\n") + "\n"
    }()

    func testEveryChartIsOneSVGHoldingItsLoggedNumbers() throws {
        let log = try RunLog(jsonLines: Self.logText, source: "m.jsonl")
        let page = try Page(TrainingReport.html(log: log, title: "run", facts: [("Model", "minilm")]))
        XCTAssertEqual(page.svgIDs.sorted(), ["chart-eval", "chart-grad-norm", "chart-loss", "chart-lr", "chart-pairs-per-s"])
        let steps = log.steps

        let loss = page.series["chart-loss"]!
        XCTAssertEqual(Set(loss.keys), ["total", "dim 384", "dim 128", "dim 32"])
        for s in steps where !s.skipped {
            XCTAssertEqual(loss["total"]![Double(s.step)], .some(s.loss!))
            for dim in ["384", "128", "32"] { XCTAssertEqual(loss["dim \(dim)"]![Double(s.step)], .some(s.losses[dim]!)) }
        }
        XCTAssertEqual(loss["total"]![4], .some(nil), "a skipped step is a gap, not a zero")
        XCTAssertEqual(page.pathMoves["chart-loss"], [2, 2, 2, 2], "each line restarts after the gap")

        for s in steps {
            XCTAssertEqual(page.series["chart-lr"]!["lr"]![Double(s.step)], .some(s.learningRate!))
            XCTAssertEqual(page.series["chart-pairs-per-s"]!["pairs/s"]![Double(s.step)], .some(s.pairsPerSecond!))
            XCTAssertEqual(page.series["chart-grad-norm"]!["grad norm"]![Double(s.step)], s.skipped ? .some(nil) : .some(s.gradNorm!))
        }
        let eval = page.series["chart-eval"]!
        XCTAssertEqual(eval["dim 384"], [0: 0.4123, 5: 0.5012, 10: 0.5678])
        XCTAssertEqual(eval["dim 128"], [0: 0.3502, 5: 0.4401, 10: 0.5123])

        for id in page.svgIDs {
            XCTAssertTrue(page.svgHasViewBoxAndFullWidth[id]!, id)
            XCTAssertEqual(page.axisLabels[id]?.count, 2, "\(id): both axes labelled")
        }
    }

    func testBeforeAfterTableComparesFirstAndLastEvaluation() throws {
        let log = try RunLog(jsonLines: Self.logText, source: "m.jsonl")
        let page = try Page(TrainingReport.html(log: log, title: "run", facts: []))
        let rows = page.tables["before-after"]!
        XCTAssertEqual(rows, [["Metric", "Before", "After", "Change"],
                              ["dim 384"], ["ndcg@10", "0.4123", "0.5678", "+0.1555"], ["mrr@10", "0.3811", "0.5001", "+0.1190"],
                              ["dim 128"], ["ndcg@10", "0.3502", "0.5123", "+0.1621"], ["mrr@10", "undefined", "0.4567", ""]])
        XCTAssertTrue(page.text.contains("Before: the base model (step 0); after: the last evaluation (step 10)."))
        XCTAssertTrue(page.text.contains("Skipped steps1 (step 4)"), page.text)
    }

    func testUserTextIsEscaped() throws {
        let log = try RunLog(jsonLines: Self.logText, source: "m.jsonl")
        let title = "a <b> & \"c\" 'd'\u{1}"
        let html = TrainingReport.html(log: log, title: title, facts: [("Data", "/tmp/<script>alert(1)</script>&x"), ("<k>", "v")])
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertFalse(html.contains("&nbsp;"))
        let page = try Page(html)
        XCTAssertEqual(page.documentTitle, "a <b> & \"c\" 'd'\u{FFFD}")
        XCTAssertTrue(page.tables["facts"]!.contains(["Data", "/tmp/<script>alert(1)</script>&x"]))
        XCTAssertTrue(page.tables["facts"]!.contains(["<k>", "v"]))
        XCTAssertTrue(TrainingReport.html(log: log, title: "t", facts: []).contains(TrainingReport.generatorMarker))
    }

    func testNoDataGivesNotesNotCharts() throws {
        let page = try Page(TrainingReport.html(log: RunLog(), title: "empty", facts: []))
        XCTAssertEqual(page.svgIDs, [])
        XCTAssertTrue(page.text.contains("No loss values in the log."))
        XCTAssertTrue(page.text.contains("No evaluations in the log"))
        let one = try RunLog(jsonLines: "{\"step\":1,\"loss\":1.5}\n{\"step\":1,\"eval\":{\"384\":{\"spearman\":0.8}}}\n", source: "m")
        let onePage = try Page(TrainingReport.html(log: one, title: "one", facts: []))
        XCTAssertEqual(onePage.svgIDs.sorted(), ["chart-eval", "chart-loss"])
        XCTAssertEqual(onePage.series["chart-eval"]!["dim 384"], [1: 0.8])
        XCTAssertTrue(onePage.text.contains("nothing to compare"))
    }

    func testLongRunIsDownsampledKeepingSpikesAndStaysSmall() throws {
        var lines: [String] = []
        lines.reserveCapacity(100_001)
        for step in 1...100_000 {
            let loss = step == 54_321 ? 99.5 : 1 + 1 / Double(step) + Double(step % 7) * 0.01
            lines.append("{\"step\":\(step),\"epoch\":\(Double(step) / 1000),\"loss\":\(loss),\"losses\":{\"384\":\(loss),\"64\":\(loss + 1)},\"lr\":\(2e-5 * (1 - Double(step) / 100_000)),\"grad_norm\":\(0.5 + Double(step % 11) * 0.1),\"pairs_per_s\":\(100 + step % 13),\"seconds\":\(Double(step) * 0.5)}")
        }
        lines.append("{\"step\":100000,\"eval\":{\"384\":{\"spearman\":0.81,\"pearson\":0.8}}}")
        let log = try RunLog(jsonLines: lines.joined(separator: "\n"), source: "long")
        let html = TrainingReport.html(log: log, title: "long", facts: [])
        XCTAssertLessThan(html.utf8.count, 1_000_000, "100k steps: \(html.utf8.count) bytes")
        let page = try Page(html)
        let total = page.series["chart-loss"]!["total"]!
        XCTAssertLessThanOrEqual(total.count, 2 * SVGChart.buckets)
        XCTAssertEqual(total[54_321], .some(99.5), "min/max downsampling keeps the spike")
        XCTAssertEqual(total[1], .some(2.01), "and the first step")
        for (step, value) in total { XCTAssertEqual(value, log.steps[Int(step) - 1].loss, "a drawn point is a logged number") }
        XCTAssertTrue(page.text.contains("Training time13h 53m 20s"), "100,000 × 0.5 s")
    }

    func testTicksAreRoundNumbers() {
        XCTAssertEqual(SVGChart.niceTicks(1, 30, integer: true), [0, 10, 20, 30])
        XCTAssertEqual(SVGChart.niceTicks(0.31, 0.58), [0.3, 0.4, 0.5, 0.6], accuracy: 1e-12)
        XCTAssertEqual(SVGChart.niceTicks(0.31, 0.49), [0.3, 0.35, 0.4, 0.45, 0.5], accuracy: 1e-12)
        XCTAssertEqual(SVGChart.niceTicks(0, 2e-5).map { SVGChart.tickLabel($0 * 1e5, step: 0.5) }, ["0", "0.5", "1.0", "1.5", "2.0"])
        XCTAssertEqual(SVGChart.superscript(-5), "⁻⁵")
        XCTAssertEqual(SVGChart.niceTicks(0.31, 0.58).map { SVGChart.tickLabel($0, step: 0.1) }, ["0.3", "0.4", "0.5", "0.6"])
        XCTAssertEqual(SVGChart.stepLabel(25_000, step: 25_000), "25k")
        XCTAssertEqual(SVGChart.stepLabel(12_500, step: 2_500), "12.5k")
        XCTAssertEqual(SVGChart.niceTicks(5, 5, integer: true).count >= 2, true)
    }

    func testWriteIsAtomicAndRecognisable() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ember-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("report.html")
        try TrainingReport.write(log: RunLog(jsonLines: Self.logText, source: "m"), title: "t", facts: [], to: file)
        XCTAssertTrue(TrainingReport.isEmbers(file))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["report.html"], "no temporary file left")
        try "<html>mine</html>".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertFalse(TrainingReport.isEmbers(file))
        XCTAssertThrowsError(try TrainingReport.write(log: RunLog(), title: "t", facts: [],
                                                      to: folder.appendingPathComponent("missing/report.html"))) { error in
            XCTAssertTrue("\(error)".contains("missing/report.html"), "\(error)")
        }
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(a) vs \(b)", file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}
