import EmberCore
import EmberModel
import Foundation
import XCTest

/// Packed attention in the layout the encoder actually uses: one fused [T × 3H] block whose rows hold
/// query | key | value (row stride ld = 3H), several sequences of different lengths (1 included), with
/// and without attention dropout — forward against a float64 re-statement, backward against its finite
/// differences. (BackwardTests covers the contiguous ld = H layout.)
final class StridedAttentionTests: XCTestCase {
    let lengths = [3, 1, 6, 2], heads = 2, hidden = 8

    struct Case {
        let qkv: [Float]                 // [T × 3H]
        let q, k, v: [Double]            // [T × H] each, extracted from qkv
        let keep: (Int, Int, Int) -> Double
        let dropout: AttentionDropout?
    }

    func makeCase(dropout rate: Float) -> Case {
        var rng = BackwardTests.Rng(state: 29)
        let T = lengths.reduce(0, +), H = hidden
        let qkv = rng.floats(T * 3 * H).map { $0 * 2 }   // scores far from uniform
        func part(_ p: Int) -> [Double] { (0..<(T * H)).map { Double(qkv[($0 / H) * 3 * H + p * H + $0 % H]) } }
        let dropout = rate > 0 ? AttentionDropout(probability: rate) { s, h in UInt64(500 + s * 13 + h) } : nil
        let lengths = self.lengths, heads = self.heads
        let keep: (Int, Int, Int) -> Double = { job, i, j in
            guard rate > 0 else { return 1 }
            let s = job / heads, L = lengths[s]
            return Dropout.keeps(i * L + j, probability: rate, stream: UInt64(500 + s * 13 + job % heads)) ? 1 / (1 - Double(rate)) : 0
        }
        return Case(qkv: qkv, q: part(0), k: part(1), v: part(2), keep: keep, dropout: dropout)
    }

    func forward(_ c: Case) -> (ctx: [Float], probs: [Float]) {
        let sequences = PackedSequences(lengths: lengths)
        let H = hidden
        var ctx = [Float](repeating: .nan, count: sequences.tokenCount * H)
        var probs = [Float](repeating: .nan, count: heads * sequences.scoreCount)
        c.qkv.withUnsafeBufferPointer { b in
            let p = b.baseAddress!
            PackedAttention.forward(q: p, k: p + H, v: p + 2 * H, ld: 3 * H, ctx: &ctx, probs: &probs,
                                    sequences: sequences, heads: heads, hidden: H, dropout: c.dropout)
        }
        return (ctx, probs)
    }

    func checkForward(dropout rate: Float) {
        let c = makeCase(dropout: rate)
        let (ctx, _) = forward(c)
        let expected = BackwardTests.attentionDouble(c.q, c.k, c.v, lengths: lengths, heads: heads, hidden: hidden, keep: c.keep)
        XCTAssertGreaterThan(expected.map(abs).max()!, 0.1)
        for i in 0..<ctx.count { XCTAssertEqual(Double(ctx[i]), expected[i], accuracy: 1e-5, "ctx[\(i)] dropout \(rate)") }
    }

    func checkBackward(dropout rate: Float) {
        let c = makeCase(dropout: rate)
        let (_, probs) = forward(c)
        let T = lengths.reduce(0, +), H = hidden
        var rng = BackwardTests.Rng(state: 31)
        let w = rng.floats(T * H)
        var dqkv = [Float](repeating: .nan, count: T * 3 * H)   // every entry must be written
        c.qkv.withUnsafeBufferPointer { b in
            dqkv.withUnsafeMutableBufferPointer { d in
                let p = b.baseAddress!, g = d.baseAddress!
                PackedAttention.backward(q: p, k: p + H, v: p + 2 * H, ld: 3 * H, probs: probs, dctx: w,
                                         dq: g, dk: g + H, dv: g + 2 * H, sequences: PackedSequences(lengths: lengths),
                                         heads: heads, hidden: H, dropout: c.dropout)
            }
        }
        // Reference: L = Σ w ⊙ attention(q, k, v) in float64, central differences on the fused block.
        let wd = w.map(Double.init)
        func loss(_ x: [Double]) -> Double {
            func part(_ p: Int) -> [Double] { (0..<(T * H)).map { x[($0 / H) * 3 * H + p * H + $0 % H] } }
            let ctx = BackwardTests.attentionDouble(part(0), part(1), part(2), lengths: lengths, heads: heads, hidden: H, keep: c.keep)
            return zip(ctx, wd).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let x = c.qkv.map(Double.init)
        for i in 0..<x.count {
            var plus = x, minus = x
            plus[i] += 1e-6; minus[i] -= 1e-6
            let fd = (loss(plus) - loss(minus)) / 2e-6
            let block = ["dq", "dk", "dv"][(i % (3 * H)) / H]
            XCTAssertEqual(Double(dqkv[i]), fd, accuracy: 1e-5 + 1e-4 * abs(fd), "\(block) token \(i / (3 * H)) col \(i % H) dropout \(rate)")
        }
        // Non-trivial gradients in each of the three blocks (a length-1 sequence has dq = dk = 0).
        for p in 0..<3 {
            let norm = (0..<(T * H)).reduce(0.0) { $0 + Double(dqkv[($1 / H) * 3 * H + p * H + $1 % H]) * Double(dqkv[($1 / H) * 3 * H + p * H + $1 % H]) }
            XCTAssertGreaterThan(norm.squareRoot(), 0.05, "block \(p)")
        }
    }

    func testFusedStrideForward() { checkForward(dropout: 0) }
    func testFusedStrideForwardWithDropout() { checkForward(dropout: 0.3) }
    func testFusedStrideBackward() { checkBackward(dropout: 0) }
    func testFusedStrideBackwardWithDropout() { checkBackward(dropout: 0.3) }
}
