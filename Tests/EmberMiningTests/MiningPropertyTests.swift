import EmberCore
@testable import EmberMining
import XCTest

/// SEMANTICS.md §9.1's properties on random problems: duplicate anchors, shared positives, anchors that
/// are also positives, and integer-valued embeddings (exact scores, many ties), against a direct
/// transcription of the reference's rules with a full sort.
final class MiningPropertyTests: XCTestCase {
    struct Case {
        let pairs: [(String, String)]
        let extra: [String]
        let vectors: [String: [Float]]
    }

    func randomCase(_ rng: inout Xoshiro256StarStar) -> Case {
        let dim = 4
        let texts = (0..<30).map { "t\($0)" }
        var vectors: [String: [Float]] = [:]
        for t in texts { vectors[t] = (0..<dim).map { _ in Float(Int(rng.next(below: 7)) - 3) / 4 } }
        let pick = { (rng: inout Xoshiro256StarStar) in texts[Int(rng.next(below: UInt64(texts.count)))] }
        let pairs = (0..<24).map { _ in (pick(&rng), pick(&rng)) }
        let extra = (0..<8).map { _ in pick(&rng) }
        return Case(pairs: pairs, extra: extra, vectors: vectors)
    }

    func randomOptions(_ rng: inout Xoshiro256StarStar) -> MiningOptions {
        options { o in
            o.numNegatives = 1 + Int(rng.next(below: 4))
            o.rangeMin = Int(rng.next(below: 3))
            if rng.next(below: 2) == 0 { o.rangeMax = o.rangeMin + o.numNegatives + Int(rng.next(below: 6)) }
            if rng.next(below: 3) == 0 { o.absoluteMargin = Double(Int(rng.next(below: 5)) - 2) / 8 }
            if rng.next(below: 3) == 0 { o.relativeMargin = Double(rng.next(below: 4)) / 8 }
            if rng.next(below: 3) == 0 { o.maxScore = Double(Int(rng.next(below: 9)) - 2) / 8 }
            if rng.next(below: 3) == 0 { o.minScore = Double(Int(rng.next(below: 9)) - 6) / 8 }
            o.includePositives = rng.next(below: 6) == 0
        }
    }

    func score(_ c: Case, _ a: String, _ b: String) -> Float {
        zip(c.vectors[a]!, c.vectors[b]!).reduce(Float(0)) { $0 + $1.0 * $1.1 }
    }

    /// Which candidates of q pass every filter (M3, M4), by corpus index.
    func passes(_ c: Case, _ problem: MiningProblem, q: Int, corpusIndex i: Int, _ o: MiningOptions) -> Bool {
        let query = problem.queries[q]
        let s = score(c, query, problem.corpus[i])
        let minpos = problem.positiveIndices[q].map { score(c, query, problem.corpus[$0]) }.min()!
        if !o.includePositives && problem.positiveIndices[q].contains(i) { return false }
        if let am = o.absoluteMargin, s + Float(am) > minpos { return false }
        if let rm = o.relativeMargin, s > minpos - abs(minpos) * Float(rm) { return false }
        if let ms = o.maxScore, s > Float(ms) { return false }
        if let ms = o.minScore, s < Float(ms) { return false }
        return true
    }

    /// M5/M6: the window over the survivors of the raw top-K pool, by a full sort.
    func expectedWindow(_ c: Case, _ problem: MiningProblem, q: Int, _ o: MiningOptions, rangeMax: Int) -> [Int] {
        let query = problem.queries[q]
        let ranked = problem.corpus.indices.sorted {
            let a = score(c, query, problem.corpus[$0]), b = score(c, query, problem.corpus[$1])
            return a > b || (a == b && $0 < $1)
        }
        let pool = ranked.prefix(rangeMax + problem.maxPositives)
        let survivors = pool.filter { passes(c, problem, q: q, corpusIndex: $0, o) }.prefix(rangeMax)
        return Array(survivors.dropFirst(o.rangeMin))
    }

    func testTopEqualsTheRulesOnRandomProblems() throws {
        var rng = Xoshiro256StarStar(seed: 2026)
        for trial in 0..<150 {
            let c = randomCase(&rng)
            let o = randomOptions(&rng)
            // Small budgets on some trials: several query chunks.
            let budget = trial % 2 == 0 ? 64 : TopKSearch.defaultMemoryBudget
            let (problem, result) = try mine(c.pairs, extra: c.extra, vectors: c.vectors, options: o, memoryBudget: budget)
            for q in problem.queries.indices {
                let window = expectedWindow(c, problem, q: q, o, rangeMax: result.rangeMax)
                XCTAssertEqual(result.selection.negatives[q], Array(window.prefix(o.numNegatives)), "trial \(trial) query \(q)")
                for (n, s) in zip(result.selection.negatives[q], result.selection.negativeScores[q]) {
                    XCTAssertEqual(s, score(c, problem.queries[q], problem.corpus[n]), "reported score")
                }
            }
            checkRowCounts(problem, result, o, trial: trial)
        }
    }

    /// Random sampling: a subset of the window, best first, of size min(N, window); the same seed gives
    /// the same output, and the draws depend on the seed.
    func testRandomSamplingIsSeededAndObeysTheFilters() throws {
        var rng = Xoshiro256StarStar(seed: 99)
        var differed = false
        for trial in 0..<100 {
            let c = randomCase(&rng)
            var o = randomOptions(&rng)
            o.sampling = .random
            o.seed = rng.next()
            let (problem, first) = try mine(c.pairs, extra: c.extra, vectors: c.vectors, options: o)
            let (_, again) = try mine(c.pairs, extra: c.extra, vectors: c.vectors, options: o)
            XCTAssertEqual(first.table.jsonLines(), again.table.jsonLines(), "same seed, same output")
            var other = o
            other.seed = o.seed &+ 1
            let (_, reseeded) = try mine(c.pairs, extra: c.extra, vectors: c.vectors, options: other)
            if reseeded.selection.negatives != first.selection.negatives { differed = true }
            for q in problem.queries.indices {
                let window = expectedWindow(c, problem, q: q, o, rangeMax: first.rangeMax)
                let chosen = first.selection.negatives[q]
                XCTAssertEqual(chosen.count, min(o.numNegatives, window.count), "trial \(trial)")
                let positions = chosen.map { window.firstIndex(of: $0) }
                XCTAssertFalse(positions.contains(nil), "every negative is in the window and passes the filters")
                XCTAssertEqual(positions.compactMap { $0 }, positions.compactMap { $0 }.sorted(), "best first")
            }
            checkRowCounts(problem, first, o, trial: trial)
        }
        XCTAssertTrue(differed, "another seed draws other negatives somewhere")
    }

    /// M9/M10: the row count and columns of every format, from v(q) and |Pos(q)|.
    func checkRowCounts(_ problem: MiningProblem, _ result: MiningResult, _ o: MiningOptions, trial: Int) {
        for format in MiningOptions.OutputFormat.allCases {
            for scores in [false, true] {
                var fo = o
                fo.outputFormat = format; fo.outputScores = scores
                let table = MiningTable(problem: problem, selection: result.selection, positiveScores: result.positiveScores,
                                        anchorColumn: "q", positiveColumn: "p", options: fo)
                let N = o.numNegatives
                let v = result.selection.negatives.map(\.count), pos = problem.positiveIndices.map(\.count)
                let expected: Int
                switch fo.effectiveFormat {
                case .triplet: expected = zip(pos, v).reduce(0) { $0 + $1.0 * $1.1 }
                case .nTuple: expected = zip(pos, v).reduce(0) { $0 + ($1.1 == N ? $1.0 : 0) }
                case .labeledList: expected = zip(pos, v).reduce(0) { $0 + ($1.1 >= 1 ? $1.0 : 0) }
                case .labeledPair: expected = zip(pos, v).reduce(0) { $0 + $1.0 + $1.1 }
                }
                XCTAssertEqual(table.rows.count, expected, "trial \(trial) \(fo.effectiveFormat) scores \(scores)")
                XCTAssertTrue(table.rows.allSatisfy { $0.count == table.columns.count })
                XCTAssertEqual(Array(table.columns.prefix(2)), ["q", "p"])
                XCTAssertEqual(table.columns.last == "scores" || table.columns.last == "score", scores)
            }
        }
    }
}
