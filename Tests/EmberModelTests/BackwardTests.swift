import EmberCore
import EmberModel
import Foundation
import XCTest

/// Finite-difference checks of the backward passes that sit above the kernels (KernelTests covers
/// Linear, LayerNorm, GELU, softmax): packed attention with and without dropout, pooling, Normalize, and
/// the whole encoder + pooling + Normalize pipeline of the tiny reference BERT with dropout on.
final class BackwardTests: XCTestCase {
    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = DropoutStreams.splitMix(state)
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    /// Float64 attention over packed sequences, mirroring PackedAttention (for finite differences).
    static func attentionDouble(_ q: [Double], _ k: [Double], _ v: [Double], lengths: [Int], heads: Int, hidden: Int,
                                keep: (Int, Int, Int) -> Double) -> [Double] {
        let d = hidden / heads
        var ctx = [Double](repeating: 0, count: q.count)
        var offset = 0
        for (s, L) in lengths.enumerated() {
            for h in 0..<heads {
                for i in 0..<L {
                    var scores = (0..<L).map { j in (0..<d).reduce(0.0) { $0 + q[(offset + i) * hidden + h * d + $1] * k[(offset + j) * hidden + h * d + $1] } / Double(d).squareRoot() }
                    let m = scores.max()!
                    scores = scores.map { Foundation.exp($0 - m) }
                    let z = scores.reduce(0, +)
                    for j in 0..<L {
                        let p = scores[j] / z * keep(s * heads + h, i, j)
                        for c in 0..<d { ctx[(offset + i) * hidden + h * d + c] += p * v[(offset + j) * hidden + h * d + c] }
                    }
                }
            }
            offset += L
        }
        return ctx
    }

    func checkAttention(dropout rate: Float) {
        var rng = Rng(state: 11)
        let lengths = [3, 5], heads = 2, hidden = 8
        let T = lengths.reduce(0, +)
        let sequences = PackedSequences(lengths: lengths)
        let q = rng.floats(T * hidden), k = rng.floats(T * hidden), v = rng.floats(T * hidden), w = rng.floats(T * hidden)
        let dropout = rate > 0 ? AttentionDropout(probability: rate) { s, h in UInt64(100 + s * 7 + h) } : nil
        var ctx = [Float](repeating: 0, count: T * hidden)
        var probs = [Float](repeating: 0, count: heads * sequences.scoreCount)
        PackedAttention.forward(q: q, k: k, v: v, ctx: &ctx, probs: &probs, sequences: sequences, heads: heads, hidden: hidden, dropout: dropout)
        var dq = [Float](repeating: 0, count: T * hidden), dk = dq, dv = dq
        PackedAttention.backward(q: q, k: k, v: v, probs: probs, dctx: w, dq: &dq, dk: &dk, dv: &dv,
                                 sequences: sequences, heads: heads, hidden: hidden, dropout: dropout)
        let keep: (Int, Int, Int) -> Double = { job, i, j in
            guard rate > 0 else { return 1 }
            let L = lengths[job / heads]
            return Dropout.keeps(i * L + j, probability: rate, stream: UInt64(100 + (job / heads) * 7 + job % heads)) ? 1 / (1 - Double(rate)) : 0
        }
        let qd = q.map(Double.init), kd = k.map(Double.init), vd = v.map(Double.init), wd = w.map(Double.init)
        let expected = Self.attentionDouble(qd, kd, vd, lengths: lengths, heads: heads, hidden: hidden, keep: keep)
        for i in 0..<ctx.count { XCTAssertEqual(Double(ctx[i]), expected[i], accuracy: 1e-5, "ctx[\(i)]") }
        func loss(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
            zip(Self.attentionDouble(q, k, v, lengths: lengths, heads: heads, hidden: hidden, keep: keep), wd).reduce(0) { $0 + $1.0 * $1.1 }
        }
        for (name, ours, fd) in [("dq", dq, finiteDifference(qd) { loss($0, kd, vd) }),
                                 ("dk", dk, finiteDifference(kd) { loss(qd, $0, vd) }),
                                 ("dv", dv, finiteDifference(vd) { loss(qd, kd, $0) })] {
            for i in 0..<ours.count { XCTAssertEqual(Double(ours[i]), fd[i], accuracy: 1e-5 + 1e-4 * abs(fd[i]), "\(name)[\(i)] dropout \(rate)") }
        }
    }

    func testAttentionBackward() { checkAttention(dropout: 0) }
    func testAttentionBackwardWithDropout() { checkAttention(dropout: 0.3) }

    func finiteDifference(_ x: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        (0..<x.count).map { i in
            var plus = x, minus = x
            plus[i] += h; minus[i] -= h
            return (f(plus) - f(minus)) / (2 * h)
        }
    }

    func testDropoutMasksAreDeterministicAndUnbiased() {
        var x = [Float](repeating: 1, count: 100_000)
        Dropout.apply(&x, count: x.count, probability: 0.1, stream: 42)
        let kept = x.filter { $0 != 0 }
        XCTAssertEqual(Double(kept.count) / Double(x.count), 0.9, accuracy: 0.005)
        XCTAssertEqual(kept.first!, 1 / 0.9, accuracy: 1e-6)
        var again = [Float](repeating: 1, count: 100_000)
        Dropout.apply(&again, count: again.count, probability: 0.1, stream: 42)
        XCTAssertEqual(x, again)
        var other = [Float](repeating: 1, count: 100_000)
        Dropout.apply(&other, count: other.count, probability: 0.1, stream: 43)
        XCTAssertNotEqual(x, other)
        for i in [0, 17, 99_999] { XCTAssertEqual(x[i] != 0, Dropout.keeps(i, probability: 0.1, stream: 42)) }
    }

    func testPoolingAndNormalizeBackward() {
        var rng = Rng(state: 5)
        let lengths = [1, 4, 3], H = 6
        let sequences = PackedSequences(lengths: lengths)
        let T = sequences.tokenCount
        let hidden = rng.floats(T * H)
        // skip: leading tokens masked out (include_prompt false); 5 masks every token of every sequence.
        for skip in [0, 2, 5] {
        for modes in [[Pooling.Mode.mean], [.cls], [.max], [.meanSqrtLength], [.weightedMean], [.lastToken], [.cls, .mean, .max]] {
            let pooling = Pooling(modes: modes, dimension: H)
            let D = pooling.outputDimension
            let w = rng.floats(lengths.count * D)
            func loss(_ x: [Double]) -> Double {
                var pooled = [Float](repeating: 0, count: lengths.count * D)
                pooling.forward(x.map(Float.init), sequences: sequences, &pooled, excludingLeading: skip)
                Normalize.forward(&pooled, rows: lengths.count, dim: D)
                return zip(pooled, w).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            var pooled = [Float](repeating: 0, count: lengths.count * D)
            pooling.forward(hidden, sequences: sequences, &pooled, excludingLeading: skip)
            var dPooled = [Float](repeating: 0, count: pooled.count)
            Normalize.backward(pooled, w, &dPooled, rows: lengths.count, dim: D)
            var dHidden = [Float](repeating: 0, count: T * H)
            pooling.backward(hidden, sequences: sequences, dPooled: dPooled, dHidden: &dHidden, excludingLeading: skip)
            let fd = finiteDifference(hidden.map(Double.init), h: 1e-3, loss)
            for i in 0..<dHidden.count { XCTAssertEqual(Double(dHidden[i]), fd[i], accuracy: 2e-3, "\(modes) skip \(skip) dHidden[\(i)]") }
        }
        }
    }

    /// The whole pipeline with dropout on: L = Σ w ⊙ embed(texts). Masks are functions of the sequence
    /// keys, so the perturbed forwards see the same masks and central differences are valid.
    /// Per tensor, the derivative along the gradient's own direction and along 4 random directions must
    /// match central differences to 2% of the gradient's norm (a per-tensor relative norm: a zeroed,
    /// sign-flipped or rescaled gradient fails), and every gradient must be well above rounding noise.
    /// The query and key weights are scaled ×8 so attention is far from uniform and their gradients are
    /// not the ~1e-5 of the untouched random tiny model.
    func testTinyBertParameterGradientsMatchFiniteDifferences() throws {
        let model = try SentenceModel(folder: Paths.tinyBert)
        for p in model.parameters where p.name.hasSuffix("attention.self.query.weight") || p.name.hasSuffix("attention.self.key.weight") {
            for i in 0..<p.count { p.value[i] *= 8 }
        }
        let texts = ["the anchor is positive", "a short text", "the negative anchor texts in a short text of anchors", "x y z and the texting"]
        let tokenized = texts.map(model.tokenize)
        XCTAssertFalse(tokenized.joined().contains(model.tokenizer.unkId), "texts must be real tiny-bert words")
        let dropout = EncoderDropout(hiddenProbability: 0.1, attentionProbability: 0.1,
                                     sequenceKeys: (0..<texts.count).map { DropoutStreams.sequenceKey(seed: 1, step: 0, column: 0, row: $0) })
        var rng = Rng(state: 3)
        let D = model.embeddingDimension
        let w = rng.floats(texts.count * D)
        func loss() -> Double {
            let (e, _) = model.embedForTraining(tokenized, dropout: dropout, keepActivations: false)
            return (0..<e.count).reduce(0.0) { $0 + Double(e[$1]) * Double(w[$1]) }
        }
        let (_, tape) = model.embedForTraining(tokenized, dropout: dropout, keepActivations: true)
        model.parameters.forEach { $0.zeroGrad() }
        model.backward(tape!, dEmbeddings: w)
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let grads = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.grad.array.map(Double.init)) })
        let largest = grads.values.map(norm).max()!
        var checked = 0
        for parameter in model.parameters {
            let g = grads[parameter.name]!, gNorm = norm(g)
            // The derivative of L along the unit direction u, by central differences (step h along u).
            func directional(_ u: [Double], h: Double = 2e-2) -> Double {
                let saved = parameter.value.array
                for i in 0..<u.count { parameter.value[i] = Float(Double(saved[i]) + h * u[i]) }
                let plus = loss()
                for i in 0..<u.count { parameter.value[i] = Float(Double(saved[i]) - h * u[i]) }
                let minus = loss()
                for i in 0..<u.count { parameter.value[i] = saved[i] }
                return (plus - minus) / (2 * h)
            }
            var random: [[Double]] = []
            for _ in 0..<4 {
                let r = rng.floats(parameter.count).map(Double.init), n = norm(r)
                random.append(r.map { $0 / n })
            }
            if parameter.name.hasSuffix("attention.self.key.bias") {
                // Softmax ignores a per-row constant: the true gradient is 0, and ours is exactly that (not the
                // rounding noise of dK's column sums, which AdamW would turn into layout-dependent steps).
                XCTAssertEqual(gNorm, 0, parameter.name)
                for u in random { XCTAssertEqual(directional(u), 0, accuracy: 2e-5, parameter.name) }
                continue
            }
            // Central differences here resolve ~1e-5 (the key.bias check above); every other gradient must
            // be far above that, or the 2% comparison below could not see it.
            XCTAssertGreaterThan(gNorm, 2e-3, "\(parameter.name): gradient norm \(gNorm) is too small to check")
            let directions = [g.map { $0 / max(gNorm, 1e-30) }] + random
            var error = 0.0
            for u in directions {
                let ours = zip(g, u).reduce(0) { $0 + $1.0 * $1.1 }, fd = directional(u)
                error += (ours - fd) * (ours - fd)
            }
            XCTAssertLessThanOrEqual(error.squareRoot() / gNorm, 2e-2, "\(parameter.name): ‖g‖ = \(gNorm)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 30)
    }
}
