import EmberCore

/// Row-major matrix of Float64: `rows × cols`, element (r, c) at `values[r * cols + c]`.
///
/// The losses' currency: one `Matrix` per batch column (B rows × D dims) in, one gradient `Matrix` of the
/// same shape out. Float64 because scores of up to scale·1 = 20–100 feed a log-sum-exp and the losses are
/// checked against the float64 reference library to 1e-6.
public struct Matrix: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var values: [Double]

    /// A zero matrix.
    public init(rows: Int, cols: Int) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape")
        self.rows = rows
        self.cols = cols
        values = [Double](repeating: 0, count: rows * cols)
    }

    public init(rows: Int, cols: Int, values: [Double]) {
        precondition(values.count == rows * cols, "Matrix(\(rows)×\(cols)) needs \(rows * cols) values, got \(values.count)")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    /// From nested rows (all the same length); convenient for tests and small fixtures.
    public init(_ nested: [[Double]]) {
        let cols = nested.first?.count ?? 0
        precondition(nested.allSatisfy { $0.count == cols }, "ragged rows")
        self.init(rows: nested.count, cols: cols, values: nested.flatMap { $0 })
    }

    /// From Float32 embeddings (what the model produces).
    public init(rows: Int, cols: Int, floats: UnsafePointer<Float>) {
        self.init(rows: rows, cols: cols)
        values.withUnsafeMutableBufferPointer { out in
            for index in 0..<rows * cols { out[index] = Double(floats[index]) }
        }
    }

    public subscript(row: Int, col: Int) -> Double {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }

    /// The first `count` columns of every row (Matryoshka truncation).
    public func leadingColumns(_ count: Int) -> Matrix {
        precondition(count >= 0 && count <= cols)
        if count == cols { return self }
        var out = Matrix(rows: rows, cols: count)
        for r in 0..<rows {
            for c in 0..<count { out.values[r * count + c] = values[r * cols + c] }
        }
        return out
    }

    /// Rows stacked on top of each other: `[a; b; …]` (the column-blocked candidate matrix).
    public static func vstack(_ parts: [Matrix]) -> Matrix {
        guard let first = parts.first else { return Matrix(rows: 0, cols: 0) }
        precondition(parts.allSatisfy { $0.cols == first.cols }, "vstack: column counts differ")
        var values: [Double] = []
        values.reserveCapacity(parts.reduce(0) { $0 + $1.values.count })
        for part in parts { values.append(contentsOf: part.values) }
        return Matrix(rows: parts.reduce(0) { $0 + $1.rows }, cols: first.cols, values: values)
    }

    /// Rows `range` as a new matrix.
    public func rowSlice(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, cols: cols, values: Array(values[range.lowerBound * cols..<range.upperBound * cols]))
    }

    /// Element-wise `self += other` (shapes must match).
    public mutating func add(_ other: Matrix) {
        precondition(rows == other.rows && cols == other.cols, "add: shape mismatch")
        for i in 0..<values.count { values[i] += other.values[i] }
    }
}

/// What a loss returns: its value, ∂loss/∂(every input embedding column), and named sub-losses for logs.
public struct LossOutput: Sendable {
    public var loss: Double
    /// One per input column, same shape as that column's embeddings.
    public var gradients: [Matrix]
    /// E.g. Matryoshka's per-dimension (unweighted) losses keyed "384", "256", …; empty otherwise.
    public var components: [String: Double]

    public init(loss: Double, gradients: [Matrix], components: [String: Double] = [:]) {
        self.loss = loss
        self.gradients = gradients
        self.components = components
    }
}

/// A contrastive loss as a pure function of embeddings.
///
/// `columns[0]` are the anchors ("queries"), `columns[1]` the positives ("documents"), `columns[2...]` hard
/// negatives — each B rows × D. For GIST, `guide` holds the guide model's embeddings of the same columns
/// (B × D_guide each, never truncated). The loss is computed in Float64 and the gradient w.r.t. every input
/// embedding is returned, so the trainer can back-propagate it through the encoder (directly, or as the
/// GradCache stage-3 cache).
public protocol EmbeddingLoss: Sendable {
    /// Human-readable name for logs/config ("mnrl", "gist", "matryoshka(mnrl)").
    var name: String { get }
    /// Whether the loss needs guide embeddings (GIST).
    var needsGuide: Bool { get }
    /// The loss and dL/d(every input embedding). `chunkRows`: evaluate in chunks of anchor rows
    /// (GradCache stage 2 — the score matrix never exceeds chunkRows × candidates; nil = all rows at once).
    /// Chunked and unchunked agree to ~1e-12.
    func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?) throws -> LossOutput
    /// The same, for training step `step`: losses with per-step randomness (Matryoshka's `dimsPerStep`)
    /// derive it deterministically from (their seed, step). Everything else ignores `step`.
    func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?, step: Int) throws -> LossOutput
}

extension EmbeddingLoss {
    public func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?, step: Int) throws -> LossOutput {
        try lossAndGradients(columns: columns, guide: guide, chunkRows: chunkRows)
    }

    /// Unchunked, without a guide.
    public func lossAndGradients(columns: [Matrix]) throws -> LossOutput {
        try lossAndGradients(columns: columns, guide: nil, chunkRows: nil)
    }
}

/// Shape checks shared by the losses: ≥ 2 columns, equal rows and dims, ≥ 1 row.
func validateColumns(_ columns: [Matrix], loss: String) throws {
    guard columns.count >= 2 else {
        throw EmberError("\(loss) needs at least 2 columns (anchor, positive), got \(columns.count)")
    }
    let rows = columns[0].rows, dim = columns[0].cols
    guard rows > 0, dim > 0 else { throw EmberError("\(loss): empty batch (\(rows) rows × \(dim) dims)") }
    for (index, column) in columns.enumerated() where column.rows != rows || column.cols != dim {
        throw EmberError("\(loss): column \(index) is \(column.rows)×\(column.cols), expected \(rows)×\(dim)")
    }
}

/// The anchor-row chunks `[b, e)` of stage 2; `nil` or a size ≥ rows gives one chunk.
func chunkRanges(rows: Int, chunkRows: Int?) throws -> [Range<Int>] {
    if let size = chunkRows, size <= 0 { throw EmberError("--mini-batch-size must be > 0, got \(size)") }
    let size = min(chunkRows ?? rows, rows)
    return stride(from: 0, to: rows, by: size).map { $0..<min($0 + size, rows) }
}
