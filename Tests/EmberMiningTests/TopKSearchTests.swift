import EmberCore
@testable import EmberMining
import XCTest

/// The chunked top-k search against a brute-force full sort. Embeddings have small integer components,
/// so every score is exact in float32 whatever the product's blocking — and ties are frequent, which
/// pins the tie order (lower corpus index first).
final class TopKSearchTests: XCTestCase {
    func testEqualsFullSortAcrossChunkSizesAndK() {
        var rng = Xoshiro256StarStar(seed: 7)
        let nq = 23, nc = 41, dim = 5
        let queries = (0..<(nq * dim)).map { _ in Float(Int(rng.next(below: 5)) - 2) }
        let corpus = (0..<(nc * dim)).map { _ in Float(Int(rng.next(below: 5)) - 2) }
        let expected = bruteForce(queries, corpus, nq: nq, nc: nc, dim: dim)
        var sawTie = false
        for q in 0..<nq where Set(expected[q].map(\.score)).count < nc { sawTie = true }
        XCTAssertTrue(sawTie, "the data must contain ties to test their order")

        // Budgets giving 1, 3, 7 (not dividing 23) and all rows per chunk.
        for rows in [1, 3, 7, nq] {
            let budget = rows * nc * MemoryLayout<Float>.size
            XCTAssertEqual(TopKSearch.chunkRows(queryCount: nq, corpusCount: nc, memoryBudget: budget), rows)
            for k in [1, 2, 5, nc - 1, nc, nc + 4] {
                var progressCalls: [Int] = []
                let result = TopKSearch.search(queries: queries, queryCount: nq, corpus: corpus, corpusCount: nc, dim: dim,
                                               k: k, memoryBudget: budget) { progressCalls.append($0) }
                XCTAssertEqual(progressCalls.last, nq)
                XCTAssertEqual(progressCalls.count, (nq + rows - 1) / rows)
                for q in 0..<nq {
                    for j in 0..<k {
                        let score = result.scores[q * k + j], index = result.indices[q * k + j]
                        if j < nc {
                            XCTAssertEqual(score, expected[q][j].score, "rows \(rows) k \(k) q \(q) slot \(j)")
                            XCTAssertEqual(Int(index), expected[q][j].index, "rows \(rows) k \(k) q \(q) slot \(j)")
                        } else {
                            XCTAssertEqual(score, -.infinity); XCTAssertEqual(index, -1, "padding past the corpus")
                        }
                    }
                }
            }
        }
    }

    func testBudgetSmallerThanOneRowStillSearches() {
        let queries: [Float] = [1, 0, 0, 1], corpus: [Float] = [0, 1, 1, 0, 0.5, 0.5]
        XCTAssertEqual(TopKSearch.chunkRows(queryCount: 2, corpusCount: 3, memoryBudget: 1), 1)
        let result = TopKSearch.search(queries: queries, queryCount: 2, corpus: corpus, corpusCount: 3, dim: 2, k: 2, memoryBudget: 1)
        XCTAssertEqual(result.indices, [1, 2, 0, 2])
        XCTAssertEqual(result.scores, [1, 0.5, 1, 0.5])
    }

    func testHeapKeepsLowerIndexOnEqualScores() {
        var heap = TopKHeap(capacity: 3)
        for (i, s) in [Float](arrayLiteral: 0.5, 0.5, 0.9, 0.5, 0.9, 0.1).enumerated() { heap.offer(score: s, index: Int32(i)) }
        var scores = [Float](repeating: 0, count: 3), indices = [Int32](repeating: 0, count: 3)
        heap.drainDescending(scores: &scores, indices: &indices)
        XCTAssertEqual(indices, [2, 4, 0])
        XCTAssertEqual(scores, [0.9, 0.9, 0.5])
    }

    /// Every corpus index per query, by descending score, ties to the lower index.
    func bruteForce(_ queries: [Float], _ corpus: [Float], nq: Int, nc: Int, dim: Int) -> [[(score: Float, index: Int)]] {
        (0..<nq).map { q in
            (0..<nc).map { c in
                (score: (0..<dim).reduce(Float(0)) { $0 + queries[q * dim + $1] * corpus[c * dim + $1] }, index: c)
            }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
        }
    }
}
