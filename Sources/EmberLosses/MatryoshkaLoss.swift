import EmberCore

/// MatryoshkaLoss (Kusupati et al. 2022) — sentence-transformers semantics (spec §8, §11).
///
///     shrink_d(e) = e[:, :d] / max(‖e[:, :d]‖, 1e-12)
///     L = Σ_{d ∈ dims} w_d · L_inner({shrink_d(e_c)}_c, guide)
///     ∂L/∂e_c = Σ_d w_d · J_{shrink_d}ᵀ · ∂L_inner/∂shrink_d(e_c)      (zero beyond column d)
///
/// Inputs: the full-dimension embeddings of every column (B × modelDimension) and, for a guided inner loss,
/// the guide embeddings, which are passed through untruncated (the guide always works at its own full
/// dimension). Normalisation applies to every dim, the full one included: invisible for cosine inner
/// losses, but it changes dot-product losses. Because shrink-of-shrink equals shrink, every dim is cut from
/// the full embedding. The output is one full-size gradient per column, i.e. exactly what the library's
/// cached path (`CachedLossDecorator` on `calculate_loss`) hands to GradCache's replay: Matryoshka over a
/// chunked (cached) inner loss is this same wrapper with `chunkRows` passed through.
///
/// Dims are sorted descending with their weights permuted alongside. `components` holds each computed
/// dim's unweighted inner loss keyed by the dim ("384", "256", …).
///
/// `dimsPerStep`: if set and smaller than the number of dims, each step uses a random subset of that many
/// dims (largest first), drawn from (`seed`, `step`) with SplitMix64 — deterministic and independent of
/// call order, but not Python's `random.sample` stream (cannot be matched across languages; spec §17.9).
public struct MatryoshkaLoss: EmbeddingLoss {
    public let inner: any EmbeddingLoss
    /// Descending.
    public let dims: [Int]
    /// `weights[i]` belongs to `dims[i]`.
    public let weights: [Double]
    public let modelDimension: Int
    /// Dims per step (nil = all).
    public var dimsPerStep: Int?
    /// Seed of the per-step dim subsets.
    public var seed: UInt64
    /// Non-fatal remarks (the model's full dimension missing from `dims`).
    public let warnings: [String]

    public var name: String { "matryoshka(\(inner.name))" }
    public var needsGuide: Bool { inner.needsGuide }

    /// Throws `EmberError` for empty dims, non-positive dims, dims above `modelDimension`, a weight count
    /// that differs from the dim count, and `dimsPerStep` ≤ 0.
    public init(wrapping inner: any EmbeddingLoss, dims: [Int], weights: [Double]? = nil, modelDimension: Int,
                dimsPerStep: Int? = nil, seed: UInt64 = 0) throws {
        guard !dims.isEmpty else { throw EmberError("--matryoshka-dims must not be empty") }
        if let bad = dims.first(where: { $0 <= 0 }) {
            throw EmberError("--matryoshka-dims must all be > 0, got \(bad)")
        }
        if let big = dims.first(where: { $0 > modelDimension }) {
            throw EmberError("--matryoshka-dims: \(big) is larger than the model's embedding dimension \(modelDimension)")
        }
        let weights = weights ?? [Double](repeating: 1, count: dims.count)
        guard weights.count == dims.count else {
            throw EmberError("--matryoshka-weights has \(weights.count) values for \(dims.count) --matryoshka-dims")
        }
        if let bad = weights.first(where: { !$0.isFinite }) { throw EmberError("--matryoshka-weights must be finite, got \(bad)") }
        if let n = dimsPerStep, n <= 0 { throw EmberError("--matryoshka-dims-per-step must be > 0, got \(n)") }
        // Stable sort by dim, descending, carrying the weights along (library ≥ v3.0.1).
        let order = dims.indices.sorted { dims[$0] > dims[$1] || (dims[$0] == dims[$1] && $0 < $1) }
        self.inner = inner
        self.dims = order.map { dims[$0] }
        self.weights = order.map { weights[$0] }
        self.modelDimension = modelDimension
        self.dimsPerStep = dimsPerStep
        self.seed = seed
        warnings = dims.contains(modelDimension) ? [] :
            ["--matryoshka-dims does not include the model's full dimension \(modelDimension); adding it is recommended"]
    }

    /// Indices into `dims` used at `step`, ascending (largest dim first).
    public func selectedDimIndices(step: Int) -> [Int] {
        guard let n = dimsPerStep, n < dims.count else { return Array(dims.indices) }
        var generator = SplitMix64(seed: seed ^ SplitMix64.mix(UInt64(bitPattern: Int64(step)) &+ 0x632B_E59B_D9B4_E019))
        var pool = Array(dims.indices)
        // Partial Fisher–Yates: the first n entries become a uniform random n-subset.
        for i in 0..<n {
            let j = i + Int(generator.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
        }
        return pool[0..<n].sorted()
    }

    /// The dims used at `step`, largest first.
    public func selectedDims(step: Int) -> [Int] { selectedDimIndices(step: step).map { dims[$0] } }

    public func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?) throws -> LossOutput {
        try lossAndGradients(columns: columns, guide: guide, chunkRows: chunkRows, step: 0)
    }

    public func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?, step: Int) throws -> LossOutput {
        try validateColumns(columns, loss: name)
        guard columns[0].cols == modelDimension else {
            throw EmberError("\(name): embeddings have \(columns[0].cols) dims, the model \(modelDimension)")
        }
        var gradients = columns.map { Matrix(rows: $0.rows, cols: $0.cols) }
        var components: [String: Double] = [:]
        var total = 0.0
        for index in selectedDimIndices(step: step) {
            let d = dims[index], w = weights[index]
            let shrunk = columns.map { NormalizedRows($0.leadingColumns(d), eps: 1e-12) }
            let out = try inner.lossAndGradients(columns: shrunk.map(\.unit), guide: guide, chunkRows: chunkRows, step: step)
            total += w * out.loss
            components[String(d)] = out.loss
            for c in columns.indices {
                let g = shrunk[c].backward(out.gradients[c])
                accumulate(w, g, into: &gradients[c])
            }
        }
        return LossOutput(loss: total, gradients: gradients, components: components)
    }

    /// `full[:, :g.cols] += w · g`.
    private func accumulate(_ w: Double, _ g: Matrix, into full: inout Matrix) {
        let d = g.cols, D = full.cols
        full.values.withUnsafeMutableBufferPointer { f in
            g.values.withUnsafeBufferPointer { gp in
                for r in 0..<g.rows {
                    for c in 0..<d { f[r * D + c] += w * gp[r * d + c] }
                }
            }
        }
    }
}

/// SplitMix64: tiny, seedable, and the same everywhere (Matryoshka's per-step dim subsets).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }
}
