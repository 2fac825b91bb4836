import EmberCore
import EmberLosses
import XCTest

final class GISTEmbedLossTests: XCTestCase {
    func configurations() throws -> [(String, GISTEmbedLoss)] {
        [
            ("default", try GISTEmbedLoss()),
            ("T0.05-abs0.1", try GISTEmbedLoss(temperature: 0.05, margin: 0.1)),
            ("T0.05-rel0.2", try GISTEmbedLoss(temperature: 0.05, marginStrategy: .relative, margin: 0.2)),
            ("no-anchors", try GISTEmbedLoss(temperature: 0.1, contrastAnchors: false)),
            ("no-contrast", try GISTEmbedLoss(temperature: 0.1, margin: 0.05, contrastAnchors: false, contrastPositives: false)),
        ]
    }

    /// Random batch whose guide is a noisy copy of the model embeddings, so some candidates are masked
    /// (guide similarity above the row's own pair) and others are not.
    func batch(_ random: inout LossTestRandom, columns: Int, rows: Int, dim: Int, guideDim: Int) -> ([Matrix], [Matrix]) {
        let model = random.columns(columns, rows: rows, dim: dim)
        let guide = model.map { m in
            Matrix(rows: rows, cols: guideDim, values: (0..<rows * guideDim).map { index in
                let (r, c) = (index / guideDim, index % guideDim)
                return (c < dim ? m[r, c] : 0) + 0.4 * random.uniform()
            })
        }
        return (model, guide)
    }

    /// The masks depend on the guide only, so the loss is smooth in the model embeddings: central finite
    /// differences of the public API must match the analytic gradient.
    func testGradientMatchesFiniteDifferences() throws {
        var random = LossTestRandom(seed: 21)
        for (name, loss) in try configurations() {
            for columnCount in [2, 4] {
                let (columns, guide) = batch(&random, columns: columnCount, rows: 4, dim: 3, guideDim: 5)
                let out = try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
                XCTAssertTrue(out.loss.isFinite, name)
                try assertGradientMatchesFiniteDifferences(columns, gradients: out.gradients, rtol: 1e-5, atol: 1e-6,
                                                       "\(name), \(columnCount) columns") {
                    try loss.lossAndGradients(columns: $0, guide: guide, chunkRows: nil).loss
                }
            }
        }
    }

    func testChunkedEqualsUnchunked() throws {
        var random = LossTestRandom(seed: 22)
        let rows = 7
        for (name, loss) in try configurations() {
            let (columns, guide) = batch(&random, columns: 4, rows: rows, dim: 5, guideDim: 6)
            let whole = try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
            for chunk in [1, 3, rows, rows + 3] {
                let chunked = try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: chunk)
                assertSameOutput(chunked, whole, tolerance: 1e-12, "\(name), chunkRows \(chunk)")
            }
        }
    }

    /// With both contrast blocks off, nothing masked and τ = 1/s, GIST is MNRL (spec §6.3).
    func testEqualsMNRLWhenNothingIsMasked() throws {
        var random = LossTestRandom(seed: 23)
        let columns = random.columns(3, rows: 5, dim: 6)
        // Guide: positives identical to anchors (t_i = 1), so no candidate can exceed the threshold.
        let guide = [columns[0], columns[0], columns[2]]
        let gist = try GISTEmbedLoss(temperature: 0.05, contrastAnchors: false, contrastPositives: false)
        let out = try gist.lossAndGradients(columns: columns, guide: guide, chunkRows: nil)
        let mnrl = try MNRL(scale: 20).lossAndGradients(columns: columns)
        assertSameOutput(out, mnrl, tolerance: 1e-10, "GIST vs MNRL")
    }

    /// P8 (spec §14): the CE target (ap column o+i) is never masked — with an absolute margin > 0 its own
    /// guide similarity t_i exceeds θ_i = t_i − m, and with a relative margin and t_i < 0 too.
    func testTargetColumnIsProtected() throws {
        var random = LossTestRandom(seed: 24)
        let (columns, guide) = batch(&random, columns: 3, rows: 4, dim: 4, guideDim: 4)
        for loss in [try GISTEmbedLoss(margin: 0.1), try GISTEmbedLoss(marginStrategy: .relative, margin: 0.1)] {
            let out = try loss.lossAndGradients(columns: columns, guide: guide, chunkRows: 2)
            XCTAssertTrue(out.loss.isFinite)
            XCTAssertTrue(out.gradients.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        }
        // Negative own-pair guide similarity: the guide positive points away from the guide anchor.
        var negated = guide
        for index in negated[1].values.indices { negated[1].values[index] = -guide[0].values[index] + 0.1 * random.uniform() }
        let relative = try GISTEmbedLoss(marginStrategy: .relative, margin: 0.1)
        let out = try relative.lossAndGradients(columns: columns, guide: negated, chunkRows: nil)
        XCTAssertTrue(out.loss.isFinite)
        // Rank offset: rank 1 of a simulated world of 2 — the target is pool row o+i, not i.
        let units = columns.map(unitRows), guideUnits = guide.map(unitRows)
        let pools = GISTEmbedLoss.Pools(anchors: units[0], positives: units[1], positivePool: Matrix.vstack([units[1], units[1]]),
                                        negativePools: [Matrix.vstack([units[2], units[2]])])
        let guidePools = GISTEmbedLoss.Pools(anchors: guideUnits[0], positives: guideUnits[1],
                                             positivePool: Matrix.vstack([guideUnits[1], guideUnits[1]]),
                                             negativePools: [Matrix.vstack([guideUnits[2], guideUnits[2]])])
        let offset = try GISTEmbedLoss(margin: 0.1).lossAndPoolGradients(model: pools, guide: guidePools, rankOffset: 4, chunkRows: 3)
        XCTAssertTrue(offset.loss.isFinite)
        // The duplicate of the own positive on the other rank (pool row i) has guide similarity t_i > θ_i:
        // masked, while the protected copy at o+i carries the target — so rank 0 and rank 1 agree.
        let rank0 = try GISTEmbedLoss(margin: 0.1).lossAndPoolGradients(model: pools, guide: guidePools, rankOffset: 0, chunkRows: nil)
        XCTAssertEqual(offset.loss, rank0.loss, accuracy: 1e-12)
    }

    /// P9 (spec §14, #3821): guide cos of the own pair −0.50, of another candidate −0.49, relative margin 0.05
    /// ⇒ θ = −0.5 − 0.5·0.05 = −0.525, so the candidate (−0.49 > θ) is masked and the target survives.
    /// (The pre-5.6 rule t·(1 − m) = −0.475 would have kept it.)
    func testRelativeMarginWithNegativePositiveScore() throws {
        let y = (1 - 0.49 * 0.49 - 0.8 * 0.8).squareRoot()
        let guideAnchors = Matrix([[1, 0, 0], [0, 0, 1]])
        let guidePositives = Matrix([[-0.5, 0.75.squareRoot(), 0], [-0.49, y, 0.8]])
        // Model embeddings: anything generic.
        let anchors = Matrix([[0.3, -0.2, 0.9], [0.1, 0.7, -0.4]])
        let positives = Matrix([[0.5, 0.1, 0.6], [-0.2, 0.8, 0.1]])
        let loss = try GISTEmbedLoss(temperature: 0.05, marginStrategy: .relative, margin: 0.05,
                                     contrastAnchors: false, contrastPositives: false)
        let out = try loss.lossAndGradients(columns: [anchors, positives], guide: [guideAnchors, guidePositives], chunkRows: nil)
        XCTAssertEqual(loss.threshold(ownPairGuideSimilarity: -0.5), -0.525, accuracy: 1e-15)
        // Row 0 keeps only its target: ℓ_0 = 0 and anchor 0 gets no gradient at all.
        XCTAssertEqual(out.gradients[0].values[0..<3].map(abs).max()!, 0)
        // Row 1 (t = 0.8, θ = 0.76; guide cos to positive 0 is 0) keeps both candidates.
        func cos(_ a: Matrix, _ i: Int, _ b: Matrix, _ j: Int) -> Double {
            let x = (0..<3).map { a[i, $0] }, z = (0..<3).map { b[j, $0] }
            return zip(x, z).map(*).reduce(0, +) / (norm(x) * norm(z))
        }
        let s10 = cos(anchors, 1, positives, 0) / 0.05, s11 = cos(anchors, 1, positives, 1) / 0.05
        let row1 = log(exp(s10) + exp(s11)) - s11
        XCTAssertEqual(out.loss, row1 / 2, accuracy: 1e-12)
        // For t ≥ 0 the relative rule is the old t·(1 − m).
        XCTAssertEqual(loss.threshold(ownPairGuideSimilarity: 0.8), 0.8 * (1 - 0.05), accuracy: 1e-15)
    }

    func testValidation() throws {
        XCTAssertThrowsError(try GISTEmbedLoss(temperature: 0))
        XCTAssertThrowsError(try GISTEmbedLoss(temperature: -0.1))
        XCTAssertThrowsError(try GISTEmbedLoss(margin: .infinity))
        let loss = try GISTEmbedLoss()
        XCTAssertTrue(loss.needsGuide)
        XCTAssertEqual(loss.name, "gist")
        var random = LossTestRandom(seed: 25)
        let columns = random.columns(3, rows: 3, dim: 4)
        XCTAssertThrowsError(try loss.lossAndGradients(columns: columns, guide: nil, chunkRows: nil)) { error in
            XCTAssertTrue((error as? EmberError)?.message.contains("--guide") ?? false)
        }
        XCTAssertThrowsError(try loss.lossAndGradients(columns: columns, guide: Array(columns[0..<2]), chunkRows: nil))
        XCTAssertThrowsError(try loss.lossAndGradients(columns: columns, guide: random.columns(3, rows: 2, dim: 4), chunkRows: nil))
        // The guide may have its own dimension.
        XCTAssertNoThrow(try loss.lossAndGradients(columns: columns, guide: random.columns(3, rows: 3, dim: 7), chunkRows: nil))
    }
}
