import EmberCore
@testable import EmberMining
import Foundation
import XCTest

/// The four formats (SEMANTICS.md §5), their JSON lines, and the summary's counts and wording (§6), from
/// a hand-made selection: A has two positives and two negatives, B one positive (in an exact duplicate
/// row) and only one of the two negatives asked for.
final class MiningOutputTests: XCTestCase {
    let problem = MiningProblem(pairs: [("A", "p1"), ("B", "p3"), ("A", "p2"), ("B", "p3")].map { (anchor: $0.0, positive: $0.1) },
                                extraCorpus: ["x", "y"])
    let selection = NegativeSelection.Selection(negatives: [[0, 1], [1]], negativeScores: [[0.5, 0.25], [0.375]], skips: [])
    let positiveScores: [[Float]] = [[0.75, 0.625], [0.875]]

    func table(_ format: MiningOptions.OutputFormat, scores: Bool = false, _ configure: (inout MiningOptions) -> Void = { _ in }) -> MiningTable {
        let o = options { $0.numNegatives = 2; $0.outputFormat = format; $0.outputScores = scores; configure(&$0) }
        return MiningTable(problem: problem, selection: selection, positiveScores: positiveScores,
                           anchorColumn: "query", positiveColumn: "passage", options: o)
    }

    func lines(_ t: MiningTable) -> [String] {
        String(decoding: t.jsonLines(), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func testProblemGroupsDuplicateRows() {
        XCTAssertEqual(problem.corpus, ["x", "y", "p1", "p3", "p2"])
        XCTAssertEqual(problem.queries, ["A", "B"])
        XCTAssertEqual(problem.positiveIndices, [[2, 4], [3]])
        XCTAssertEqual(problem.rowsPerQuery, [2, 2])
        XCTAssertEqual(problem.distinctPairCount, 3)
    }

    func testTripletOneRowPerFoundNegative() {
        let t = table(.triplet, scores: true)
        XCTAssertEqual(t.columns, ["query", "passage", "negative", "scores"])
        XCTAssertEqual(lines(t), [
            #"{"query": "A", "passage": "p1", "negative": "x", "scores": [0.75, 0.5]}"#,
            #"{"query": "A", "passage": "p1", "negative": "y", "scores": [0.75, 0.25]}"#,
            #"{"query": "A", "passage": "p2", "negative": "x", "scores": [0.625, 0.5]}"#,
            #"{"query": "A", "passage": "p2", "negative": "y", "scores": [0.625, 0.25]}"#,
            #"{"query": "B", "passage": "p3", "negative": "y", "scores": [0.875, 0.375]}"#,
        ])
        XCTAssertEqual(t.maximumPossible, 6)
        XCTAssertEqual(t.summaryNegatives, [0.5, 0.25, 0.5, 0.25, 0.375])
        XCTAssertEqual(t.summaryDifferences, [0.25, 0.5, 0.125, 0.375, 0.5])
    }

    func testNTupleDropsIncompleteRows() {
        let t = table(.nTuple)
        XCTAssertEqual(t.columns, ["query", "passage", "negative_1", "negative_2"])
        XCTAssertEqual(lines(t), [
            #"{"query": "A", "passage": "p1", "negative_1": "x", "negative_2": "y"}"#,
            #"{"query": "A", "passage": "p2", "negative_1": "x", "negative_2": "y"}"#,
        ])
        XCTAssertEqual(t.summaryNegatives.count, 4, "only the kept rows' negatives")
        XCTAssertEqual(lines(table(.nTuple, scores: true)).first,
                       #"{"query": "A", "passage": "p1", "negative_1": "x", "negative_2": "y", "scores": [0.75, 0.5, 0.25]}"#)
        let summary = MiningSummary.report(positiveScores: positiveScores.flatMap { $0 }, table: t, skips: [], options: options { $0.numNegatives = 2 })
        XCTAssertEqual(summary[2], "Count               3              4               ")
        XCTAssertEqual(summary.last, "Could not find enough negatives for 1 samples (33.33%). Consider adjusting the range_max parameter if you'd like to find more valid negatives.")
    }

    func testLabeledPairEmitsNegativesOncePerAnchor() {
        let t = table(.labeledPair)
        XCTAssertEqual(t.columns, ["query", "passage", "label"])
        XCTAssertEqual(lines(t), [
            #"{"query": "A", "passage": "p1", "label": 1}"#,
            #"{"query": "A", "passage": "p2", "label": 1}"#,
            #"{"query": "A", "passage": "x", "label": 0}"#,
            #"{"query": "A", "passage": "y", "label": 0}"#,
            #"{"query": "B", "passage": "p3", "label": 1}"#,
            #"{"query": "B", "passage": "y", "label": 0}"#,
        ])
        XCTAssertEqual(lines(table(.labeledPair, scores: true))[2], #"{"query": "A", "passage": "x", "score": 0.5}"#)
        // The reference's maximum counts raw rows (4) plus queries × N: the duplicate row shows as missing.
        XCTAssertEqual(t.maximumPossible, 8)
        XCTAssertEqual(t.summaryNegatives.count, 5, "negatives repeated per positive")
        let o = options { $0.numNegatives = 2; $0.rangeMin = 1; $0.relativeMargin = 0.05; $0.minScore = 0.1 }
        let summary = MiningSummary.report(positiveScores: [0.75, 0.625, 0.875], table: t, skips: [], options: o)
        XCTAssertEqual(summary.last, "Could not find enough negatives for 2 samples (25.00%). Consider adjusting the range_max, range_min and relative_margin parameters if you'd like to find more valid negatives.")
    }

    func testLabeledListKeepsShortLists() {
        let t = table(.labeledList)
        XCTAssertEqual(t.columns, ["query", "passage", "labels"])
        XCTAssertEqual(lines(t), [
            #"{"query": "A", "passage": ["p1", "x", "y"], "labels": [1, 0, 0]}"#,
            #"{"query": "A", "passage": ["p2", "x", "y"], "labels": [1, 0, 0]}"#,
            #"{"query": "B", "passage": ["p3", "y"], "labels": [1, 0]}"#,
        ])
        XCTAssertEqual(lines(table(.labeledList, scores: true))[2], #"{"query": "B", "passage": ["p3", "y"], "scores": [0.875, 0.375]}"#)
        XCTAssertEqual(t.rows.count, t.maximumPossible, "nothing missing: short lists are not counted")
    }

    func testJSONEscapingAndScores() throws {
        XCTAssertEqual(JSONLiteral.string("a\"b\\c\nd\u{1}é"), #""a\"b\\c\nd\u0001é""#)
        // A float32 score is written as Python prints it: the shortest decimal of the widened double.
        XCTAssertEqual(MiningTable.json(.score(0.1)), "0.10000000149011612")
        let line = JSONLiteral.string("tab\there \"quoted\" ✓")
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(line.utf8), options: .fragmentsAllowed) as? String, "tab\there \"quoted\" ✓")
    }

    func testStatisticsAsTheReferencePrintsThem() {
        let s = MiningSummary.Stats([4, 1, 3, 2])
        XCTAssertEqual(s.median, "2.0000", "the lower middle value, not the average")
        XCTAssertEqual(s.q50, "2.5000", "the 50% quantile interpolates")
        XCTAssertEqual(s.q25, "1.7500"); XCTAssertEqual(s.q75, "3.2500")
        XCTAssertEqual(s.std, "1.2910", "unbiased")
        XCTAssertEqual(s.mean, "2.5000")
        let empty = MiningSummary.Stats([])
        XCTAssertEqual([empty.mean, empty.median, empty.std, empty.min, empty.q25, empty.max], ["nan", "nan", "nan", "inf", "inf", "-inf"])
        XCTAssertEqual(MiningSummary.thousands(1_234_567), "1,234,567")
        XCTAssertEqual(MiningSummary.thousands(999), "999")
        XCTAssertEqual(MiningSummary.percent(1.0 / 3), "33.33%")
        XCTAssertEqual(MiningSummary.pythonFloat(-10), "-10.0")
        XCTAssertEqual(MiningSummary.pythonFloat(0.05), "0.05")
    }
}
