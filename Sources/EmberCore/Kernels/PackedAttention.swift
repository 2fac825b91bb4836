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

public enum PackedAttention {
    /// probs[s,h] = softmax(Q_h K_hᵀ / √d) per sequence; ctx_h = probs[s,h] · V_h.
    /// q, k, v, ctx: [T × H]; probs: [heads · Σ L²] (kept for the backward).
    /// `dropProbs`, when given, is applied to the probabilities in place before the product with V
    /// (attention dropout; it must be replayable, see the trainer's dropout).
    public static func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               ctx: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               sequences: PackedSequences, heads: Int, hidden: Int,
                               dropProbs: ((_ sequence: Int, _ head: Int, _ probs: UnsafeMutablePointer<Float>, _ count: Int) -> Void)? = nil) {
        let d = hidden / heads
        let scale = 1 / Float(d).squareRoot()
        BLAS.singleThreaded {
            parallelFor(sequences.count * heads) { job in
                let s = job / heads, h = job % heads
                let L = sequences.lengths[s], o = sequences.offsets[s]
                if L == 0 { return }
                let p = probs + sequences.scoreOffsets[s] * heads + h * L * L
                let col = o * hidden + h * d
                BLAS.gemm(transB: true, m: L, n: L, k: d, alpha: scale, a: q + col, lda: hidden,
                          b: k + col, ldb: hidden, beta: 0, c: p, ldc: L, split: false)
                Softmax.forward(p, rows: L, cols: L, stride: L)
                dropProbs?(s, h, p, L * L)
                BLAS.gemm(m: L, n: d, k: L, a: p, lda: L, b: v + col, ldb: hidden, beta: 0, c: ctx + col, ldc: hidden, split: false)
            }
        }
    }
}
