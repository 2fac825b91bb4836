/// Multi-head self-attention over packed sequences: sequence s occupies token rows
/// offsets[s] ..< offsets[s] + lengths[s] of every [T × H] matrix, with no padding, so each sequence
/// attends only to itself and no mask is needed. Head h uses columns h·d ..< (h+1)·d.
///
/// Parallel over (sequence, head) pairs on Ember's worker threads; each task's small products run
/// unsplit on single-threaded OpenBLAS (see `BLAS`).
public struct PackedSequences: Sendable {
    public let offsets: [Int]
    public let lengths: [Int]
    /// Start of sequence s's L×L score blocks (per head) in a probability buffer: Σ_{r<s} L_r².
    public let scoreOffsets: [Int]
    public let tokenCount: Int
    public let scoreCount: Int   // Σ L² (multiply by heads for the buffer size)

    public init(lengths: [Int]) {
        var offsets: [Int] = [], scoreOffsets: [Int] = []
        var t = 0, s = 0
        for length in lengths {
            offsets.append(t); scoreOffsets.append(s)
            t += length; s += length * length
        }
        self.offsets = offsets; self.lengths = lengths; self.scoreOffsets = scoreOffsets
        tokenCount = t; scoreCount = s
    }

    public var count: Int { lengths.count }
}

/// Attention-probability dropout: the probability and each (sequence, head)'s dropout stream.
public struct AttentionDropout {
    public let probability: Float
    public let stream: (_ sequence: Int, _ head: Int) -> UInt64
    public init(probability: Float, stream: @escaping (Int, Int) -> UInt64) {
        self.probability = probability
        self.stream = stream
    }
}

public enum PackedAttention {
    /// probs[s,h] = softmax(Q_h K_hᵀ / √d) per sequence; ctx_h = dropout(probs[s,h]) · V_h.
    /// q, k, v: T rows `ld` apart (ld = H for separate matrices, 3H for a fused query|key|value block);
    /// ctx: [T × H]; probs: [heads · Σ L²], the pre-dropout probabilities (kept for the backward,
    /// which regenerates the dropout mask from its stream).
    public static func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int? = nil,
                               ctx: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               sequences: PackedSequences, heads: Int, hidden: Int, dropout: AttentionDropout? = nil) {
        let d = hidden / heads, ldq = ld ?? hidden
        let scale = 1 / Float(d).squareRoot()
        BLAS.singleThreaded {
            parallelFor(sequences.count * heads) { job in
                let s = job / heads, h = job % heads
                let L = sequences.lengths[s], o = sequences.offsets[s]
                if L == 0 { return }
                let p = probs + sequences.scoreOffsets[s] * heads + h * L * L
                let col = o * hidden + h * d, qcol = o * ldq + h * d
                BLAS.gemm(transB: true, m: L, n: L, k: d, alpha: scale, a: q + qcol, lda: ldq,
                          b: k + qcol, ldb: ldq, beta: 0, c: p, ldc: L, split: false)
                Softmax.forward(p, rows: L, cols: L, stride: L)
                var used = UnsafePointer(p)
                var dropped: UnsafeMutablePointer<Float>? = nil
                if let dropout, dropout.probability > 0 {
                    dropped = UnsafeMutablePointer<Float>.allocate(capacity: L * L)
                    dropped!.update(from: p, count: L * L)
                    Dropout.apply(dropped!, count: L * L, probability: dropout.probability, stream: dropout.stream(s, h))
                    used = UnsafePointer(dropped!)
                }
                BLAS.gemm(m: L, n: d, k: L, a: used, lda: L, b: v + qcol, ldb: ldq, beta: 0, c: ctx + col, ldc: hidden, split: false)
                dropped?.deallocate()
            }
        }
    }

    /// Given dctx [T × H], writes dq, dk, dv [T × H] (overwrite):
    ///   dV = P̃ᵀ·dctx, dP̃ = dctx·Vᵀ, dP = dropout(dP̃), dS = P ⊙ (dP − rowsum(dP ⊙ P)),
    ///   dQ = dS·K/√d, dK = dSᵀ·Q/√d  — per sequence and head, P̃ the dropped probabilities.
    /// dq, dk, dv share q/k/v's row stride `ld`.
    public static func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int? = nil,
                                probs: UnsafePointer<Float>, dctx: UnsafePointer<Float>,
                                dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                sequences: PackedSequences, heads: Int, hidden: Int, dropout: AttentionDropout? = nil) {
        let d = hidden / heads, ldq = ld ?? hidden
        let scale = 1 / Float(d).squareRoot()
        BLAS.singleThreaded {
            parallelFor(sequences.count * heads) { job in
                let s = job / heads, h = job % heads
                let L = sequences.lengths[s], o = sequences.offsets[s]
                if L == 0 { return }
                let p = probs + sequences.scoreOffsets[s] * heads + h * L * L
                let col = o * hidden + h * d, qcol = o * ldq + h * d
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * L * L)
                defer { scratch.deallocate() }
                let droppedP = scratch, dP = scratch + L * L
                droppedP.update(from: p, count: L * L)
                let rate = dropout?.probability ?? 0
                let stream = rate > 0 ? dropout!.stream(s, h) : 0
                if rate > 0 { Dropout.apply(droppedP, count: L * L, probability: rate, stream: stream) }
                BLAS.gemm(transA: true, m: L, n: d, k: L, a: droppedP, lda: L, b: dctx + col, ldb: hidden,
                          beta: 0, c: dv + qcol, ldc: ldq, split: false)
                BLAS.gemm(transB: true, m: L, n: L, k: d, a: dctx + col, lda: hidden, b: v + qcol, ldb: ldq,
                          beta: 0, c: dP, ldc: L, split: false)
                if rate > 0 { Dropout.apply(dP, count: L * L, probability: rate, stream: stream) }
                Softmax.backward(p, dP, dP, rows: L, cols: L, stride: L)
                BLAS.gemm(m: L, n: d, k: L, alpha: scale, a: dP, lda: L, b: k + qcol, ldb: ldq,
                          beta: 0, c: dq + qcol, ldc: ldq, split: false)
                BLAS.gemm(transA: true, m: L, n: d, k: L, alpha: scale, a: dP, lda: L, b: q + qcol, ldb: ldq,
                          beta: 0, c: dk + qcol, ldc: ldq, split: false)
            }
        }
    }
}
