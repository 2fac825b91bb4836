import EmberCore
@testable import EmberMining
import XCTest

/// Hand-made cases for the selection rules of SEMANTICS.md §1 and §3: scores are set exactly (a text's
/// vector is (s, √(1−s²)) against the query (1, 0)), so every inequality is tested at its boundary.
final class NegativeSelectionTests: XCTestCase {
    /// SEMANTICS.md §3.2's worked example: range_min counts surviving ranks, so it skips b, not a.
    func testWorkedExampleRankWindowCountsSurvivors() throws {
        let s: [String: Float] = ["P": 0.90, "a": 0.85, "b": 0.80, "c": 0.70, "d": 0.60, "e": 0.50, "f": 0.40]
        var vectors = s.mapValues { scored($0) }
        vectors["Q"] = axis(0)
        let (problem, result) = try mine([("Q", "P")], extra: ["a", "b", "c", "d", "e", "f"], vectors: vectors,
                                         options: options { $0.numNegatives = 2; $0.rangeMin = 1; $0.maxScore = 0.82 })
        XCTAssertEqual(result.rangeMax, 22, "1 + 10·2 + 1: max_score selects the ×10 derivation")
        XCTAssertEqual(negativeTexts(problem, result, query: "Q"), ["c", "d"])
        XCTAssertEqual(result.selection.skips, [NegativeSelection.Skip(name: "max_score", value: 0.82, skipped: 1, candidates: 23)])
        XCTAssertEqual(result.summary, [
            "Setting range_max to 22 based on the provided parameters.",
            "Negative candidates mined, preparing dataset...",
            "Metric       Positive       Negative     Difference",
            "Count               1              2               ",
            "Mean           0.9000         0.6500         0.2500",
            "Median         0.9000         0.6000         0.2000",
            "Std               nan         0.0707         0.0707",
            "Min            0.9000         0.6000         0.2000",
            "25%            0.9000         0.6250         0.2250",
            "50%            0.9000         0.6500         0.2500",
            "75%            0.9000         0.6750         0.2750",
            "Max            0.9000         0.7000         0.3000",
            "Skipped 1 potential negatives (4.35%) due to the max_score of 0.82.",
        ])
        // Without range_min, b (the best survivor) comes first; a never (above max_score).
        let (_, top) = try mine([("Q", "P")], extra: ["a", "b", "c", "d", "e", "f"], vectors: vectors,
                                options: options { $0.numNegatives = 2; $0.maxScore = 0.82 })
        XCTAssertEqual(negativeTexts(problem, top, query: "Q"), ["b", "c"])
    }

    /// Each filter keeps equality: removed only when strictly beyond its threshold (float32).
    func testFiltersKeepEquality() throws {
        func negatives(positive: Float, _ candidates: [String: Float], _ configure: (inout MiningOptions) -> Void) throws -> [String] {
            var vectors = candidates.mapValues { scored($0) }
            vectors["Q"] = axis(0); vectors["P"] = scored(positive)
            let o = options { $0.numNegatives = 1; $0.rangeMax = 5; configure(&$0) }
            let (problem, result) = try mine([("Q", "P")], extra: candidates.keys.sorted(), vectors: vectors, options: o)
            return negativeTexts(problem, result, query: "Q")
        }
        let c: [String: Float] = ["a": 0.25, "b": 0.375]
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.absoluteMargin = 0.25 }, ["a"], "a + 0.25 == 0.5 is kept, b removed")
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.absoluteMargin = 0.125 }, ["b"], "b + 0.125 == 0.5 is kept")
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.relativeMargin = 0.5 }, ["a"], "threshold 0.5 − 0.25 = 0.25 kept")
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.maxScore = 0.25 }, ["a"])
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.maxScore = 0.375 }, ["b"])
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.minScore = 0.375 }, ["b"])
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.minScore = 0.376 }, [])
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.absoluteMargin = -10 }, ["b"], "a negative margin is legal and removes nothing here")
        XCTAssertEqual(try negatives(positive: 0.5, c) { $0.absoluteMargin = 0.5 }, [], "0.25 + 0.5 > 0.5")
        // A negative positive score: the threshold is pos − |pos|·m (the reference's #3819), not pos·(1 − m).
        let n: [String: Float] = ["near": -0.5, "mid": -0.625, "far": -0.75]
        XCTAssertEqual(try negatives(positive: -0.5, n) { $0.relativeMargin = 0.5 }, ["far"], "−0.5 − 0.25 = −0.75, kept at equality")
        XCTAssertEqual(try negatives(positive: -0.5, n) { $0.relativeMargin = 0.25 }, ["mid"])
    }

    /// The pool is the raw top K = range_max + max positives: a valid candidate below it is never mined.
    func testPoolDepthCutsOffLowerCandidates() throws {
        let s: [String: Float] = ["P": 0.9, "a": 0.8, "b": 0.7, "c": 0.6, "d": 0.5]
        var vectors = s.mapValues { scored($0) }
        vectors["Q"] = axis(0)
        let extra = ["a", "b", "c", "d"]
        let (p1, shallow) = try mine([("Q", "P")], extra: extra, vectors: vectors,
                                     options: options { $0.numNegatives = 1; $0.rangeMax = 2; $0.maxScore = 0.65 })
        XCTAssertEqual(negativeTexts(p1, shallow, query: "Q"), [], "pool P, a, b: all excluded; c is not in it")
        XCTAssertEqual(shallow.table.rows.count, 0)
        XCTAssertTrue(shallow.summary.last!.hasPrefix("Could not find enough negatives for 1 samples (100.00%). Consider adjusting the range_max and max_score parameters"))
        let (p2, deep) = try mine([("Q", "P")], extra: extra, vectors: vectors,
                                  options: options { $0.numNegatives = 1; $0.rangeMax = 4; $0.maxScore = 0.65 })
        XCTAssertEqual(negativeTexts(p2, deep, query: "Q"), ["c"])
    }

    /// A pool deeper than the corpus: padding is never stored, but counted where the reference counts it
    /// (the denominator, and min_score's count of slots already at -inf). A huge range_max is cheap.
    func testPaddingIsCountedNotStored() throws {
        var vectors = ["P": Float(0.9), "a": 0.5, "b": 0.375].mapValues { scored($0) }
        vectors["Q"] = axis(0)
        let (problem, result) = try mine([("Q", "P")], extra: ["a", "b"], vectors: vectors,
                                         options: options { $0.numNegatives = 1; $0.rangeMax = 10; $0.minScore = 0.45 })
        XCTAssertEqual(negativeTexts(problem, result, query: "Q"), ["a"])
        // K = 11 slots: P masked, a kept, b below min_score, 8 padding: 10 counted, as the reference counts them.
        XCTAssertEqual(result.selection.skips, [NegativeSelection.Skip(name: "min_score", value: 0.45, skipped: 10, candidates: 11)])
        XCTAssertTrue(result.summary.contains("Skipped 10 potential negatives (90.91%) due to the min_score of 0.45."))
        let (_, huge) = try mine([("Q", "P")], extra: ["a", "b"], vectors: vectors,
                                 options: options { $0.numNegatives = 1; $0.rangeMax = 1 << 30 })
        XCTAssertEqual(huge.selection.negatives, result.selection.negatives)
    }

    /// Duplicate anchors: all their positives excluded, the margin against the minimum positive, both
    /// rows carrying the same negatives, grouped order; max_positives counts duplicate rows.
    func testDuplicateAnchors() throws {
        let vectors: [String: [Float]] = [
            "A": [1, 0, 0], "B": [0, 0, 1],
            "p1": [0.9, 0, 0.1], "p2": [0.6, 0, 0.2], "p3": [0.7, 0, 0.9], "x": [0.8, 0, 0.3], "y": [0.5, 0, 0.4], "z": [0.65, 0, 0.5],
        ]
        let rows = [("A", "p1"), ("B", "p3"), ("A", "p2"), ("A", "p1")]
        let (problem, result) = try mine(rows, extra: ["x", "y", "z"], vectors: vectors,
                                         options: options { $0.numNegatives = 1; $0.absoluteMargin = 0 })
        XCTAssertEqual(problem.queries, ["A", "B"])
        XCTAssertEqual(problem.corpus, ["x", "y", "z", "p1", "p3", "p2"])
        XCTAssertEqual(problem.positiveIndices, [[3, 5], [4]])
        XCTAssertEqual(problem.rowsPerQuery, [3, 1])
        XCTAssertEqual(result.rangeMax, 0 + 10 + 3, "max_positives counts the duplicate row")
        // A: min positive 0.6 (p2), so p3 .7, x .8, z .65 are removed and y .5 stays; p1, p2 never.
        XCTAssertEqual(negativeTexts(problem, result, query: "A"), ["y"])
        XCTAssertFalse(negativeTexts(problem, result, query: "B").contains("p3"))
        let table = result.table
        XCTAssertEqual(table.columns, ["query", "passage", "negative"])
        XCTAssertEqual(table.texts(0), ["A", "p1", "y"])
        XCTAssertEqual(table.texts(1), ["A", "p2", "y"])
        XCTAssertEqual(table.texts(2)[0...1], ["B", "p3"])
        XCTAssertEqual(table.rows.count, 3, "the exact duplicate row is one group")
        XCTAssertTrue(result.summary.contains("Found 2 unique queries out of 4 total queries."))
        XCTAssertTrue(result.summary.contains("Found an average of 2.000 positives per query."))
    }

    /// Anchors are never added to the corpus, but an anchor that is also a positive is a candidate — for itself too.
    func testAnchorCanBeMinedAsItsOwnNegative() throws {
        let vectors: [String: [Float]] = ["A": [1, 0], "B": [0.6, 0.8]]
        let (problem, result) = try mine([("A", "B"), ("B", "A")], vectors: vectors, options: options { $0.numNegatives = 1 })
        XCTAssertEqual(problem.corpus, ["B", "A"])
        XCTAssertEqual(negativeTexts(problem, result, query: "A"), ["A"])
        XCTAssertEqual(negativeTexts(problem, result, query: "B"), ["B"])
    }

    /// include_positives keeps positives among the candidates and forces n-tuple.
    func testIncludePositivesForcesNTuple() throws {
        var vectors = ["P": Float(0.9), "a": 0.8, "b": 0.7].mapValues { scored($0) }
        vectors["Q"] = axis(0)
        let (_, result) = try mine([("Q", "P")], extra: ["a", "b"], vectors: vectors,
                                   options: options { $0.numNegatives = 2; $0.includePositives = true; $0.outputFormat = .labeledPair })
        XCTAssertEqual(result.table.columns, ["query", "passage", "negative_1", "negative_2"])
        XCTAssertEqual(result.table.texts(0), ["Q", "P", "P", "a"])
    }

    /// The reference's checks, as one-line errors naming the flags.
    func testValidation() {
        func error(_ o: MiningOptions, pairs: [(String, String)] = [("A", "B")]) -> String? {
            do { _ = try mine(pairs, vectors: ["A": [1, 0], "B": [0, 1]], options: o); return nil } catch {
                return (error as? EmberError)?.message
            }
        }
        XCTAssertEqual(error(options { $0.numNegatives = 0 }), "--num-negatives must be at least 1, got 0")
        XCTAssertEqual(error(options { $0.rangeMin = -1 }), "--range-min must be non-negative, got -1")
        XCTAssertEqual(error(options { $0.rangeMin = 3; $0.rangeMax = 3 }),
                       "--range-min must be smaller than --range-max, got --range-min 3 and --range-max 3")
        XCTAssertTrue(error(options { $0.numNegatives = 4; $0.rangeMin = 1; $0.rangeMax = 4 })?
            .hasPrefix("--num-negatives 4 is larger than the rank window: only 3 candidates remain") ?? false)
        XCTAssertNil(error(options { $0.numNegatives = 3; $0.rangeMin = 1; $0.rangeMax = 4 }), "a window equal to N is allowed")
        XCTAssertNotNil(error(options { _ in }, pairs: []))
        XCTAssertEqual(error(options { $0.numNegatives = Int.max }), "--num-negatives must be at most 1073741824, got \(Int.max)")
    }
}
