import EmberCore
import EmberLosses
import Foundation
import XCTest

/// `<repo root>/../shared`, the repo root being three levels above this file.
let sharedDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared")

/// Deterministic pseudo-random numbers (SplitMix64) so failures reproduce.
struct LossTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) * 2 - 1 }
    mutating func matrix(_ rows: Int, _ cols: Int) -> Matrix {
        Matrix(rows: rows, cols: cols, values: (0..<rows * cols).map { _ in uniform() })
    }
    mutating func columns(_ count: Int, rows: Int, dim: Int) -> [Matrix] { (0..<count).map { _ in matrix(rows, dim) } }
}

/// The reference inputs of loss_vectors.json, regenerated from the closed form of reference_vectors.py:
/// base[i][j] = sin(1 + 0.7i + 1.3j + 0.5k) + 0.5cos(0.3ij + k), noise_c[i][j] = sin(2.1c + 0.37ij + 0.9j + k);
/// e0 = base, e1 = base + 0.6·noise_1, e_c = 0.5·base + noise_c (c ≥ 2).
func referenceEmbedding(column c: Int, kind: Int = 0, rows: Int = 4, dim: Int = 8) -> Matrix {
    var m = Matrix(rows: rows, cols: dim)
    let k = Double(kind)
    for i in 0..<rows {
        for j in 0..<dim {
            let (di, dj) = (Double(i), Double(j))
            let base = sin(1 + 0.7 * di + 1.3 * dj + 0.5 * k) + 0.5 * cos(0.3 * di * dj + k)
            let noise = sin(2.1 * Double(c) + 0.37 * di * dj + 0.9 * dj + k)
            m[i, j] = c == 0 ? base : c == 1 ? base + 0.6 * noise : 0.5 * base + noise
        }
    }
    return m
}

/// The GIST guide columns of reference_vectors.py (`guide_emb`): anchors = formula with kind 1, then row 3 :=
/// row 1; column c ≥ 1 = each guide anchor rotated towards an orthogonal direction (from emb(c+5, kind 1)) so
/// that cos(ĝa_i, ĝcol_i) = {1: 0.90, 2: 0.85, 3: 0.95}[c] + 0.01·i, keeping the anchor's norm.
func referenceGuide(column c: Int) -> Matrix {
    var g0 = referenceEmbedding(column: 0, kind: 1)
    for j in 0..<g0.cols { g0[3, j] = g0[1, j] }
    if c == 0 { return g0 }
    let base = [1: 0.90, 2: 0.85, 3: 0.95][c]!
    let r = referenceEmbedding(column: c + 5, kind: 1)
    var out = Matrix(rows: g0.rows, cols: g0.cols)
    for i in 0..<g0.rows {
        let a = (0..<g0.cols).map { g0[i, $0] }, rr = (0..<g0.cols).map { r[i, $0] }
        let aNorm = norm(a)
        let aHat = a.map { $0 / max(aNorm, 1e-12) }
        let projection = zip(rr, aHat).map(*).reduce(0, +)
        let u = zip(rr, aHat).map { $0 - projection * $1 }
        let uHat = u.map { $0 / max(norm(u), 1e-12) }
        let target = base + 0.01 * Double(i)
        for j in 0..<g0.cols { out[i, j] = aNorm * (target * aHat[j] + (1 - target * target).squareRoot() * uHat[j]) }
    }
    return out
}

func norm(_ v: [Double]) -> Double { v.map { $0 * $0 }.reduce(0, +).squareRoot() }

/// loss_vectors.json, decoded.
struct ReferenceCase {
    var name: String
    var loss: Double
    var gradients: [Matrix]
    var ncols: Int
    var guide: [Matrix]?
    var dims: [Int]?
    var weights: [Double]?
}

func loadReferenceCases() throws -> [ReferenceCase] {
    let url = sharedDirectory.appendingPathComponent("reference/loss_vectors.json")
    let data = try Data(contentsOf: url)
    let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    let cases = try XCTUnwrap(root["cases"] as? [String: Any])
    func matrices(_ value: Any?) throws -> [Matrix] {
        let nested = try XCTUnwrap(value as? [[[Any]]])
        return nested.map { column in Matrix(column.map { row in row.map { ($0 as! NSNumber).doubleValue } }) }
    }
    return try cases.keys.sorted().map { name in
        let entry = try XCTUnwrap(cases[name] as? [String: Any])
        return ReferenceCase(
            name: name,
            loss: try XCTUnwrap((entry["loss"] as? NSNumber)?.doubleValue),
            gradients: try matrices(entry["grads"]),
            ncols: try XCTUnwrap((entry["ncols"] as? NSNumber)?.intValue),
            guide: entry["guide"] == nil ? nil : try matrices(entry["guide"]),
            dims: (entry["dims"] as? [NSNumber])?.map(\.intValue),
            weights: (entry["weights"] as? [NSNumber])?.map(\.doubleValue))
    }
}

func maxAbsDifference(_ a: Matrix, _ b: Matrix) -> Double {
    precondition(a.rows == b.rows && a.cols == b.cols, "shape mismatch \(a.rows)×\(a.cols) vs \(b.rows)×\(b.cols)")
    return zip(a.values, b.values).map { abs($0 - $1) }.max() ?? 0
}

func maxAbsDifference(_ a: [Matrix], _ b: [Matrix]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).map { maxAbsDifference($0, $1) }.max() ?? 0
}

/// Asserts two loss outputs agree (value and every gradient) within `tolerance`.
func assertSameOutput(_ a: LossOutput, _ b: LossOutput, tolerance: Double, _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.loss, b.loss, accuracy: tolerance, "\(what): loss", file: file, line: line)
    XCTAssertEqual(a.gradients.count, b.gradients.count, "\(what): gradient count", file: file, line: line)
    guard a.gradients.count == b.gradients.count else { return }
    let diff = maxAbsDifference(a.gradients, b.gradients)
    XCTAssertLessThanOrEqual(diff, tolerance, "\(what): max |Δgrad| = \(diff)", file: file, line: line)
}

/// Central finite differences of `f` w.r.t. every entry of every column, compared with `gradients`
/// (|fd − g| ≤ atol + rtol·|g|). Also checks the gradient is not trivially zero.
func assertGradientMatchesFiniteDifferences(_ columns: [Matrix], gradients: [Matrix], h: Double = 1e-6,
                                            rtol: Double = 1e-5, atol: Double = 1e-7, _ what: String,
                                            file: StaticString = #filePath, line: UInt = #line,
                                            _ f: ([Matrix]) throws -> Double) rethrows {
    var largest = 0.0
    for c in columns.indices {
        for index in columns[c].values.indices {
            var plus = columns, minus = columns
            plus[c].values[index] += h
            minus[c].values[index] -= h
            let fd = (try f(plus) - f(minus)) / (2 * h)
            let g = gradients[c].values[index]
            largest = max(largest, abs(g))
            if abs(fd - g) > atol + rtol * abs(g) {
                XCTFail("\(what): column \(c) entry \(index): analytic \(g) vs finite difference \(fd)", file: file, line: line)
                return
            }
        }
    }
    XCTAssertGreaterThan(largest, 1e-3, "\(what): gradient is (nearly) zero — check would be vacuous", file: file, line: line)
}
