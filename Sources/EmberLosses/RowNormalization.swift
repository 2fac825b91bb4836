import Foundation

/// L2 row normalisation `n = x / max(‖x‖, eps)` and its backward pass.
///
/// Used three ways, each with the eps of the library function it stands in for (spec §1.1, §8.2):
/// - MNRL cosine (`util.cos_sim` → `F.normalize`, eps 1e-12);
/// - GIST model and guide cosine (`nn.CosineSimilarity`, per-vector eps 1e-8);
/// - Matryoshka's shrink (truncate, then `F.normalize`, eps 1e-12).
/// Cosine similarity is then a plain product of normalised rows, so every loss can use `dgemm` for its
/// score blocks and apply this backward once per column instead of once per score.
struct NormalizedRows {
    /// The normalised rows.
    var unit: Matrix
    /// `max(‖x_r‖, eps)` per row: the divisor used.
    var divisor: [Double]
    /// Whether the norm exceeded eps (otherwise the division was by the constant eps).
    var aboveEps: [Bool]

    init(_ x: Matrix, eps: Double) {
        unit = x
        divisor = [Double](repeating: eps, count: x.rows)
        aboveEps = [Bool](repeating: false, count: x.rows)
        let cols = x.cols
        unit.values.withUnsafeMutableBufferPointer { u in
            for r in 0..<x.rows {
                let row = u.baseAddress! + r * cols
                var squares = 0.0
                for c in 0..<cols { squares += row[c] * row[c] }
                let norm = squares.squareRoot()
                let d = max(norm, eps)
                divisor[r] = d
                aboveEps[r] = norm > eps
                for c in 0..<cols { row[c] /= d }
            }
        }
    }

    /// ∂L/∂x from ∂L/∂n. Above eps: `(g − n·(n·g)) / ‖x‖` (the projection that removes the radial part);
    /// at or below eps the divisor is the constant eps (torch's `clamp_min` passes no gradient to the norm),
    /// so the map is linear: `g / eps`.
    func backward(_ gradUnit: Matrix) -> Matrix {
        precondition(gradUnit.rows == unit.rows && gradUnit.cols == unit.cols, "normalisation backward: shape mismatch")
        var out = gradUnit
        let cols = unit.cols
        out.values.withUnsafeMutableBufferPointer { g in
            unit.values.withUnsafeBufferPointer { n in
                for r in 0..<unit.rows {
                    let gr = g.baseAddress! + r * cols, nr = n.baseAddress! + r * cols
                    let inverse = 1 / divisor[r]
                    if aboveEps[r] {
                        var radial = 0.0
                        for c in 0..<cols { radial += nr[c] * gr[c] }
                        for c in 0..<cols { gr[c] = (gr[c] - nr[c] * radial) * inverse }
                    } else {
                        for c in 0..<cols { gr[c] *= inverse }
                    }
                }
            }
        }
        return out
    }
}

/// Log-sum-exp of `count` logits at `p` (entries may be −∞), replacing them by `weight · softmax`.
/// Robust: subtracts the row maximum; a row whose entries are all −∞ has LSE −∞ and zero softmax.
/// Masked (−∞) entries get exactly 0, so they pass no gradient — like torch's `masked_fill`.
@inline(__always)
func logSumExpToSoftmax(_ p: UnsafeMutablePointer<Double>, count: Int, weight: Double) -> Double {
    var top = -Double.infinity
    for j in 0..<count where p[j] > top { top = p[j] }
    if top == -.infinity {
        for j in 0..<count { p[j] = 0 }
        return -.infinity
    }
    var sum = 0.0
    for j in 0..<count {
        let e = exp(p[j] - top)
        p[j] = e
        sum += e
    }
    let factor = weight / sum
    for j in 0..<count { p[j] *= factor }
    return top + log(sum)
}
