import EmberCore
import EmberLosses
import XCTest

final class MatryoshkaLossTests: XCTestCase {
    func message(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let error as EmberError { return error.message } catch { return "\(error)" }
    }

    func testValidation() throws {
        let inner = try MNRL()
        XCTAssertEqual(message { try MatryoshkaLoss(wrapping: inner, dims: [], modelDimension: 8) }?.contains("--matryoshka-dims"), true)
        XCTAssertNotNil(message { try MatryoshkaLoss(wrapping: inner, dims: [8, 0], modelDimension: 8) })
        XCTAssertNotNil(message { try MatryoshkaLoss(wrapping: inner, dims: [8, -4], modelDimension: 8) })
        XCTAssertEqual(message { try MatryoshkaLoss(wrapping: inner, dims: [16, 8], modelDimension: 8) }?.contains("16"), true)
        XCTAssertEqual(message { try MatryoshkaLoss(wrapping: inner, dims: [8, 4], weights: [1], modelDimension: 8) }?
            .contains("--matryoshka-weights"), true)
        XCTAssertNotNil(message { try MatryoshkaLoss(wrapping: inner, dims: [8, 4], modelDimension: 8, dimsPerStep: 0) })
        XCTAssertNil(message { try MatryoshkaLoss(wrapping: inner, dims: [8, 4], modelDimension: 8) })
        // Embeddings of the wrong width are rejected at call time.
        let loss = try MatryoshkaLoss(wrapping: inner, dims: [8, 4], modelDimension: 8)
        var random = LossTestRandom(seed: 31)
        XCTAssertNotNil(message { try loss.lossAndGradients(columns: random.columns(2, rows: 3, dim: 6)) })
    }

    func testWarningWhenFullDimensionMissing() throws {
        XCTAssertEqual(try MatryoshkaLoss(wrapping: MNRL(), dims: [4, 2], modelDimension: 8).warnings.count, 1)
        XCTAssertEqual(try MatryoshkaLoss(wrapping: MNRL(), dims: [2, 8], modelDimension: 8).warnings, [])
    }

    func testDimsSortedDescendingWithWeights() throws {
        let loss = try MatryoshkaLoss(wrapping: MNRL(), dims: [256, 768, 512, 1024], weights: [0.6, 1.0, 0.8, 0.4], modelDimension: 1024)
        XCTAssertEqual(loss.dims, [1024, 768, 512, 256])
        XCTAssertEqual(loss.weights, [0.4, 1.0, 0.8, 0.6])
        XCTAssertEqual(try MatryoshkaLoss(wrapping: MNRL(), dims: [2, 8], modelDimension: 8).weights, [1, 1])
        XCTAssertEqual(loss.name, "matryoshka(mnrl)")
        XCTAssertFalse(loss.needsGuide)
        XCTAssertTrue(try MatryoshkaLoss(wrapping: GISTEmbedLoss(), dims: [8], modelDimension: 8).needsGuide)
    }

    /// Over the full dimension alone, the extra normalisation is invisible to cosine losses.
    func testFullDimensionAloneEqualsBareCosineLoss() throws {
        var random = LossTestRandom(seed: 32)
        let columns = random.columns(3, rows: 5, dim: 6)
        let guide = random.columns(3, rows: 5, dim: 4)
        for inner in [try MNRL.gte() as any EmbeddingLoss, try GISTEmbedLoss(temperature: 0.05, margin: 0.05)] {
            let bare = try inner.lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
            let wrapped = try MatryoshkaLoss(wrapping: inner, dims: [6], modelDimension: 6)
                .lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
            assertSameOutput(wrapped, bare, tolerance: 1e-12, inner.name)
            XCTAssertEqual(Array(wrapped.components.keys), ["6"])
            XCTAssertEqual(wrapped.components["6"] ?? .nan, bare.loss, accuracy: 1e-12)
        }
        // …but not to dot-product losses: the full dim is normalised too (spec §8.2).
        let dot = try MNRL(scale: 1, similarity: .dot)
        let wrappedDot = try MatryoshkaLoss(wrapping: dot, dims: [6], modelDimension: 6).lossAndGradients(columns: columns)
        XCTAssertEqual(wrappedDot.loss, try dot.lossAndGradients(columns: columns.map(unitRows)).loss, accuracy: 1e-12)
        XCTAssertGreaterThan(abs(wrappedDot.loss - (try dot.lossAndGradients(columns: columns).loss)), 1e-3)
    }

    /// L = Σ w_d · L_inner(shrink_d): value and components against separate inner evaluations.
    func testWeightedSumOfTruncatedLosses() throws {
        var random = LossTestRandom(seed: 33)
        let columns = random.columns(3, rows: 4, dim: 6)
        let inner = try MNRL(scale: 1, similarity: .dot)
        let loss = try MatryoshkaLoss(wrapping: inner, dims: [3, 6, 2], weights: [0.5, 1, 0.25], modelDimension: 6)
        let out = try loss.lossAndGradients(columns: columns)
        var expected = 0.0
        for (d, w) in zip([6, 3, 2], [1, 0.5, 0.25]) {
            let part = try inner.lossAndGradients(columns: columns.map { unitRows($0.leadingColumns(d)) }).loss
            XCTAssertEqual(out.components[String(d)]!, part, accuracy: 1e-12)
            expected += w * part
        }
        XCTAssertEqual(out.loss, expected, accuracy: 1e-12)
    }

    /// Central finite differences through truncation, normalisation and a guided inner loss (GIST with
    /// margins; the guide is passed through untruncated, at its own dimension).
    func testGradientMatchesFiniteDifferences() throws {
        var random = LossTestRandom(seed: 34)
        let columns = random.columns(3, rows: 4, dim: 6)
        let guide = random.columns(3, rows: 4, dim: 5)
        let cases: [(String, any EmbeddingLoss)] = [
            ("gist", try GISTEmbedLoss(temperature: 0.1, marginStrategy: .relative, margin: 0.1)),
            ("mnrl-dot", try MNRL(scale: 2, similarity: .dot, directions: MNRL.Direction.allCases)),
        ]
        for (name, inner) in cases {
            let loss = try MatryoshkaLoss(wrapping: inner, dims: [6, 4, 2], weights: [1, 0.5, 0.25], modelDimension: 6)
            let out = try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: 3)
            try assertGradientMatchesFiniteDifferences(columns, gradients: out.gradients, rtol: 1e-5, atol: 1e-6, name) {
                try loss.lossAndGradients(columns: $0, guide: guide, chunkRows: nil).loss
            }
            // Entries beyond the largest dim get no gradient; here the largest dim is the full one.
            let truncatedOnly = try MatryoshkaLoss(wrapping: inner, dims: [4, 2], modelDimension: 6)
                .lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
            for r in 0..<4 { XCTAssertEqual(truncatedOnly.gradients[1][r, 5], 0) }
        }
    }

    func testChunkedEqualsUnchunked() throws {
        var random = LossTestRandom(seed: 35)
        let rows = 6
        let columns = random.columns(4, rows: rows, dim: 8), guide = random.columns(4, rows: rows, dim: 8)
        for inner in [try MNRL.gte() as any EmbeddingLoss, try GISTEmbedLoss(temperature: 0.05, margin: 0.05)] {
            let loss = try MatryoshkaLoss(wrapping: inner, dims: [8, 4, 2], weights: [1, 0.5, 0.25], modelDimension: 8)
            let whole = try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
            for chunk in [1, 3, rows, rows + 3] {
                assertSameOutput(try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: chunk), whole,
                                 tolerance: 1e-12, "\(loss.name), chunkRows \(chunk)")
            }
        }
    }

    /// `dimsPerStep`: a deterministic (seed, step) subset of that many dims, largest first; the loss equals a
    /// Matryoshka over exactly those dims and weights.
    func testDimsPerStepIsSeededAndDeterministic() throws {
        var loss = try MatryoshkaLoss(wrapping: MNRL(), dims: [8, 6, 4, 2, 1], weights: [1, 2, 3, 4, 5], modelDimension: 8,
                                      dimsPerStep: 2, seed: 7)
        var seen = Set<[Int]>()
        for step in 0..<40 {
            let dims = loss.selectedDims(step: step)
            XCTAssertEqual(dims.count, 2)
            XCTAssertEqual(dims, dims.sorted(by: >))
            XCTAssertEqual(dims, loss.selectedDims(step: step), "same (seed, step) ⇒ same dims")
            seen.insert(dims)
        }
        XCTAssertGreaterThan(seen.count, 5, "subsets should vary with the step")
        let firstSeed = (0..<10).map { loss.selectedDims(step: $0) }
        loss.seed = 8
        XCTAssertNotEqual((0..<10).map { loss.selectedDims(step: $0) }, firstSeed, "the seed matters")

        var random = LossTestRandom(seed: 36)
        let columns = random.columns(3, rows: 4, dim: 8)
        let step = 3
        let chosen = loss.selectedDimIndices(step: step)
        let out = try loss.lossAndGradients(columns: columns, guide: nil, chunkRows: nil, step: step)
        let explicit = try MatryoshkaLoss(wrapping: MNRL(), dims: chosen.map { loss.dims[$0] },
                                          weights: chosen.map { loss.weights[$0] }, modelDimension: 8)
            .lossAndGradients(columns: columns)
        assertSameOutput(out, explicit, tolerance: 1e-12, "dimsPerStep subset")
        XCTAssertEqual(Set(out.components.keys), Set(chosen.map { String(loss.dims[$0]) }))
        // Through the protocol (any EmbeddingLoss) the step reaches the wrapper too.
        let erased: any EmbeddingLoss = loss
        assertSameOutput(try erased.lossAndGradients(columns: columns, guide: nil, chunkRows: nil, step: step), out,
                         tolerance: 0, "protocol dispatch of step")
        // dimsPerStep ≥ count, or nil, means every dim.
        XCTAssertEqual(try MatryoshkaLoss(wrapping: MNRL(), dims: [8, 4], modelDimension: 8, dimsPerStep: 5).selectedDims(step: 1), [8, 4])
    }
}
