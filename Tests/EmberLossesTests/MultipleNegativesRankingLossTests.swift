import EmberCore
import EmberLosses
import XCTest

typealias MNRL = MultipleNegativesRankingLoss

/// A direct, loop-only transcription of spec §11 ("MNRL general"), independent of the dgemm/chunk code.
/// `penaltySource`: the columns whose similarities feed the detached hardness penalty α·sg(sim) —
/// finite differences must hold it fixed, since the library passes no gradient through it.
func naiveMNRL(_ columns: [Matrix], _ loss: MNRL, penaltySource: [Matrix]? = nil) -> Double {
    let rows = columns[0].rows, k = columns.count - 1, s = loss.scale
    let penaltyColumns = penaltySource ?? columns
    func vector(_ m: Matrix, _ r: Int) -> [Double] { (0..<m.cols).map { m[r, $0] } }
    func sim(_ x: [Double], _ y: [Double]) -> Double {
        let dot = zip(x, y).map(*).reduce(0, +)
        return loss.similarity == .dot ? dot : dot / (max(norm(x), 1e-12) * max(norm(y), 1e-12))
    }
    // Candidate j = column 1 + j / B, row j % B (column-blocked).
    func candidate(_ cols: [Matrix], _ j: Int) -> [Double] { vector(cols[1 + j / rows], j % rows) }
    func lse(_ x: [Double]) -> Double {
        let top = x.max()!
        return top + log(x.map { exp($0 - top) }.reduce(0, +))
    }
    var sum = 0.0
    for i in 0..<rows {
        let q = vector(columns[0], i), p = vector(columns[1], i)
        var blocks: [[Double]] = []
        var qd: [Double] = []
        for j in 0..<rows * k {
            let own = j % rows == i
            let penalised: Bool
            switch loss.hardnessMode {
            case nil: penalised = false
            case .inBatchNegatives?: penalised = !own
            case .hardNegatives?: penalised = own && j >= rows
            case .allNegatives?: penalised = j != i
            }
            let penalty = penalised ? loss.hardnessStrength * sim(vector(penaltyColumns[0], i), candidate(penaltyColumns, j)) : 0
            qd.append(s * sim(q, candidate(columns, j)) + penalty)
        }
        blocks.append(qd)
        if loss.directions.contains(.queryToQuery) {
            blocks.append((0..<rows).map { j in j == i ? -.infinity : s * sim(q, vector(columns[0], j)) })
        }
        if loss.directions.contains(.docToQuery) {
            blocks.append((0..<rows).map { j in s * sim(p, vector(columns[0], j)) })
        }
        if loss.directions.contains(.docToDoc) {
            blocks.append((0..<rows * k).map { j in j % rows == i ? -.infinity : s * sim(p, candidate(columns, j)) })
        }
        let logZ = loss.partitionMode == .joint ? lse(blocks.flatMap { $0 })
            : blocks.map(lse).reduce(0, +) / Double(blocks.count)
        sum += logZ - qd[i]
    }
    return sum / Double(rows)
}

/// Unit rows (cosine space), for the pool-level API.
func unitRows(_ m: Matrix) -> Matrix {
    var out = m
    for r in 0..<m.rows {
        let n = max(norm((0..<m.cols).map { m[r, $0] }), 1e-12)
        for c in 0..<m.cols { out[r, c] /= n }
    }
    return out
}

final class MultipleNegativesRankingLossTests: XCTestCase {
    /// Configurations covering every option (directions, partition modes, hardness modes, dot).
    func configurations() throws -> [(String, MNRL)] {
        [
            ("default", try MNRL()),
            ("scale50", try MNRL(scale: 50)),
            ("symmetric", try MNRL.symmetric()),
            ("symmetric-joint", try MNRL(directions: [.queryToDoc, .docToQuery])),
            ("gte", try MNRL.gte()),
            ("q2q-only", try MNRL(directions: [.queryToDoc, .queryToQuery])),
            ("d2d-only", try MNRL(directions: [.queryToDoc, .docToDoc])),
            ("gte+in-batch-a9", try MNRL(directions: MNRL.Direction.allCases, hardnessMode: .inBatchNegatives, hardnessStrength: 9)),
            ("hard-negatives-a5", try MNRL(hardnessMode: .hardNegatives, hardnessStrength: 5)),
            ("symmetric+all-negatives-a5", try MNRL(directions: [.queryToDoc, .docToQuery], partitionMode: .perDirection,
                                                    hardnessMode: .allNegatives, hardnessStrength: 5)),
            ("dot-scale1", try MNRL(scale: 1, similarity: .dot)),
            ("dot-gte+hard", try MNRL(scale: 2, similarity: .dot, directions: MNRL.Direction.allCases,
                                      hardnessMode: .hardNegatives, hardnessStrength: 1.5)),
        ]
    }

    func testMatchesNaiveFormula() throws {
        var random = LossTestRandom(seed: 11)
        for (name, loss) in try configurations() {
            for columnCount in 2...4 {
                let columns = random.columns(columnCount, rows: 5, dim: 6)
                let out = try loss.lossAndGradients(columns: columns)
                XCTAssertEqual(out.loss, naiveMNRL(columns, loss), accuracy: 1e-12, "\(name), \(columnCount) columns")
                XCTAssertTrue(out.loss.isFinite)
            }
        }
    }

    /// Central finite differences of the naive formula (hardness penalty frozen at the evaluation point).
    func testGradientMatchesFiniteDifferences() throws {
        var random = LossTestRandom(seed: 12)
        for (name, loss) in try configurations() {
            let columns = random.columns(name.contains("hard") ? 4 : 3, rows: 3, dim: 4)
            let out = try loss.lossAndGradients(columns: columns)
            assertGradientMatchesFiniteDifferences(columns, gradients: out.gradients, name) {
                naiveMNRL($0, loss, penaltySource: columns)
            }
        }
    }

    /// The hardness penalty is detached: with α > 0 the true derivative of the loss value differs from
    /// the returned gradient (this guards against back-propagating through the penalty).
    func testHardnessPenaltyIsDetached() throws {
        let loss = try MNRL(hardnessMode: .inBatchNegatives, hardnessStrength: 9)
        var random = LossTestRandom(seed: 13)
        let columns = random.columns(3, rows: 3, dim: 4)
        let out = try loss.lossAndGradients(columns: columns)
        let h = 1e-6
        var plus = columns, minus = columns
        plus[0].values[0] += h
        minus[0].values[0] -= h
        let undetached = (naiveMNRL(plus, loss) - naiveMNRL(minus, loss)) / (2 * h)
        let detached = (naiveMNRL(plus, loss, penaltySource: columns) - naiveMNRL(minus, loss, penaltySource: columns)) / (2 * h)
        XCTAssertEqual(out.gradients[0].values[0], detached, accuracy: 1e-6)
        XCTAssertGreaterThan(abs(out.gradients[0].values[0] - undetached), 1e-4)
    }

    /// GradCache stage 2: chunks of 1, 3, B and > B rows give the unchunked loss and gradients.
    func testChunkedEqualsUnchunked() throws {
        var random = LossTestRandom(seed: 14)
        let rows = 7
        for (name, loss) in try configurations() {
            let columns = random.columns(4, rows: rows, dim: 5)
            let whole = try loss.lossAndGradients(columns: columns, guide: nil, chunkRows: nil)
            for chunk in [1, 3, rows, rows + 3] {
                let chunked = try loss.lossAndGradients(columns: columns, guide: nil, chunkRows: chunk)
                assertSameOutput(chunked, whole, tolerance: 1e-12, "\(name), chunkRows \(chunk)")
            }
        }
    }

    /// P7 (spec §14): emulate a 2-device gather by concatenation — rank 1 of world 2 with both halves equal
    /// scores exactly like the non-gathered loss on the doubled batch.
    func testGatherOffsetBookkeeping() throws {
        var random = LossTestRandom(seed: 15)
        let rows = 4
        let loss = try MNRL(directions: MNRL.Direction.allCases, hardnessMode: .inBatchNegatives, hardnessStrength: 3)
        let columns = random.columns(3, rows: rows, dim: 5)
        let units = columns.map(unitRows)
        let pool = try loss.lossAndPoolGradients(
            queries: units[0], documents: units[1], anchorPool: Matrix.vstack([units[0], units[0]]),
            candidatePool: Matrix.vstack([units[1], units[1], units[2], units[2]]), rankOffset: rows, chunkRows: 3)
        let doubled = try loss.lossAndGradients(columns: columns.map { Matrix.vstack([$0, $0]) })
        XCTAssertEqual(pool.loss, doubled.loss, accuracy: 1e-12)
        // Rank 0 of the same world sees the same loss (the halves are identical).
        let rank0 = try loss.lossAndPoolGradients(
            queries: units[0], documents: units[1], anchorPool: Matrix.vstack([units[0], units[0]]),
            candidatePool: Matrix.vstack([units[1], units[1], units[2], units[2]]), rankOffset: 0, chunkRows: nil)
        XCTAssertEqual(rank0.loss, doubled.loss, accuracy: 1e-12)
        // A wrong offset (targets pointing at the other rank's rows of a *different* batch) changes it.
        let other = random.columns(3, rows: rows, dim: 5).map(unitRows)
        let mixed = try loss.lossAndPoolGradients(
            queries: units[0], documents: units[1], anchorPool: Matrix.vstack([other[0], units[0]]),
            candidatePool: Matrix.vstack([other[1], units[1], other[2], units[2]]), rankOffset: 0, chunkRows: nil)
        XCTAssertGreaterThan(abs(mixed.loss - pool.loss), 1e-3)
    }

    func testValidation() throws {
        func message(_ body: () throws -> Any) -> String? {
            do { _ = try body(); return nil } catch let error as EmberError { return error.message } catch { return "\(error)" }
        }
        XCTAssertEqual(message { try MNRL(scale: 0) }?.hasPrefix("--scale must be > 0"), true)
        XCTAssertEqual(message { try MNRL(scale: -1) }?.hasPrefix("--scale must be > 0"), true)
        XCTAssertEqual(message { try MNRL(scale: .nan) }?.hasPrefix("--scale must be > 0"), true)
        XCTAssertNotNil(message { try MNRL(directions: []) })
        XCTAssertEqual(message { try MNRL(directions: [.docToQuery]) }?.contains("query_to_doc"), true)
        XCTAssertEqual(message { try MNRL(directions: [.queryToDoc, .queryToQuery], partitionMode: .perDirection) }?
            .contains("per_direction"), true)
        XCTAssertNotNil(message { try MNRL(directions: [.queryToDoc, .docToDoc], partitionMode: .perDirection) })
        XCTAssertNotNil(message { try MNRL(hardnessMode: .allNegatives, hardnessStrength: -1) })
        XCTAssertNil(message { try MNRL(directions: [.queryToDoc, .docToQuery], partitionMode: .perDirection) })
        XCTAssertEqual(try MNRL(hardnessMode: .hardNegatives).warnings.count, 1)
        XCTAssertEqual(try MNRL(hardnessMode: .hardNegatives, hardnessStrength: 5).warnings, [])
        // Directions are deduplicated and put in canonical order.
        XCTAssertEqual(try MNRL(directions: [.docToDoc, .queryToDoc, .docToDoc]).directions, [.queryToDoc, .docToDoc])

        let loss = try MNRL()
        var random = LossTestRandom(seed: 16)
        XCTAssertNotNil(message { try loss.lossAndGradients(columns: [random.matrix(3, 4)]) })
        XCTAssertNotNil(message { try loss.lossAndGradients(columns: [random.matrix(3, 4), random.matrix(2, 4)]) })
        XCTAssertNotNil(message { try loss.lossAndGradients(columns: [random.matrix(3, 4), random.matrix(3, 5)]) })
        XCTAssertNotNil(message { try loss.lossAndGradients(columns: random.columns(2, rows: 3, dim: 4), guide: nil, chunkRows: 0) })
    }

    func testNamesAndPresets() throws {
        XCTAssertEqual(try MNRL().name, "mnrl")
        XCTAssertEqual(try MNRL.symmetric().name, "mnrl-symmetric")
        XCTAssertEqual(try MNRL.gte().directions, MNRL.Direction.allCases)
        XCTAssertEqual(try MNRL.gte().partitionMode, .joint)
        XCTAssertFalse(try MNRL().needsGuide)
        XCTAssertEqual(try MNRL(scale: 50).temperature, 0.02, accuracy: 1e-15)
    }

    /// Default MNRL equals the classic cross-entropy CE(s·cos(q, C), i) written out by hand for pairs.
    func testDefaultIsClassicCrossEntropy() throws {
        let columns = [Matrix([[1, 0], [0, 1]]), Matrix([[1, 1], [0, 1]])]
        let out = try MNRL().lossAndGradients(columns: columns)
        let c = 1 / 2.0.squareRoot()
        // Row 0: cos to p0 = c, to p1 = 0; row 1: cos to p0 = c, to p1 = 1.
        let row0 = log(exp(20 * c) + exp(0)) - 20 * c
        let row1 = log(exp(20 * c) + exp(20)) - 20
        XCTAssertEqual(out.loss, (row0 + row1) / 2, accuracy: 1e-12)
    }
}
