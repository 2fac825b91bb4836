import EmberCore

/// The similarity-block machinery shared by MNRL and GIST.
///
/// Both losses score a chunk of anchor rows `[b, e)` against several pools, e.g. MNRL's
/// `[q·Cᵀ | q·Qᵀ | p·Qᵀ | p·Cᵀ]` or GIST's `[a·Pᵀ | a·aᵀ | p·Pᵀ | a·N₁ᵀ | …]`. Each block is
/// `rowSource[b..<e] · columnSourceᵀ` over already-normalised rows (so similarity = product), and they
/// sit side by side in one row-major chunk buffer of `width` columns — the only O(rows × candidates)
/// allocation, reused across chunks. After the loss has turned the buffer into ∂L/∂similarity, `backward`
/// sends it into the gradients of both sides of every block with `dgemm` (beta 1 accumulates).
///
/// The sources are explicit matrices (not "column 0"), so a multi-device gather could pass gathered
/// pools as column sources while the row sources stay local (spec §1.3).
struct ScoreLayout {
    struct Block {
        /// Index into the sources of the matrix whose rows `[b, e)` are scored.
        var rowSource: Int
        /// Index into the sources of the matrix whose every row is a candidate.
        var columnSource: Int
        /// First column of this block in the chunk buffer.
        var offset: Int
        /// Number of candidates (= rows of the column source).
        var width: Int
    }

    private(set) var blocks: [Block] = []
    private(set) var width = 0

    /// Appends a block and returns its index.
    @discardableResult
    mutating func append(rowSource: Int, columnSource: Int, candidates: Int) -> Int {
        blocks.append(Block(rowSource: rowSource, columnSource: columnSource, offset: width, width: candidates))
        width += candidates
        return blocks.count - 1
    }

    /// Writes the similarity blocks for rows `rows` into `buffer` (row stride `width`).
    func forward(_ sources: [Matrix], rows: Range<Int>, into buffer: UnsafeMutablePointer<Double>) {
        for block in blocks {
            let a = sources[block.rowSource], c = sources[block.columnSource]
            a.values.withUnsafeBufferPointer { ap in
                c.values.withUnsafeBufferPointer { cp in
                    BLAS.dgemm(transB: true, m: rows.count, n: block.width, k: a.cols,
                               a: ap.baseAddress! + rows.lowerBound * a.cols, lda: a.cols,
                               b: cp.baseAddress!, ldb: c.cols,
                               c: buffer + block.offset, ldc: width)
                }
            }
        }
    }

    /// Accumulates `∂L/∂sources` from `∂L/∂similarity` in `buffer` (rows `rows`, row stride `width`):
    /// `grad[row source][rows] += dS · columnSource` and `grad[column source] += dSᵀ · rowSource[rows]`.
    func backward(_ sources: [Matrix], grads: inout [Matrix], rows: Range<Int>, from buffer: UnsafePointer<Double>) {
        for block in blocks {
            let a = sources[block.rowSource], c = sources[block.columnSource]
            let dim = a.cols
            c.values.withUnsafeBufferPointer { cp in
                grads[block.rowSource].values.withUnsafeMutableBufferPointer { gp in
                    BLAS.dgemm(m: rows.count, n: dim, k: block.width,
                               a: buffer + block.offset, lda: width, b: cp.baseAddress!, ldb: dim,
                               beta: 1, c: gp.baseAddress! + rows.lowerBound * dim, ldc: dim)
                }
            }
            a.values.withUnsafeBufferPointer { ap in
                grads[block.columnSource].values.withUnsafeMutableBufferPointer { gp in
                    BLAS.dgemm(transA: true, m: block.width, n: dim, k: rows.count,
                               a: buffer + block.offset, lda: width,
                               b: ap.baseAddress! + rows.lowerBound * dim, ldb: dim,
                               beta: 1, c: gp.baseAddress!, ldc: dim)
                }
            }
        }
    }

    /// Zero gradients shaped like `sources`.
    static func zeroGradients(like sources: [Matrix]) -> [Matrix] {
        sources.map { Matrix(rows: $0.rows, cols: $0.cols) }
    }
}

/// Scratch for one chunk's score matrix, allocated once per loss call at the largest chunk's size.
final class ChunkBuffer {
    let pointer: UnsafeMutablePointer<Double>
    let capacity: Int

    init(count: Int) {
        capacity = max(count, 1)
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    deinit { pointer.deallocate() }
}
