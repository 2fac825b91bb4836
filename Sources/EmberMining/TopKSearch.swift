import EmberCore

/// Exact inner-product top-k search of query embeddings against corpus embeddings (cosine when both are
/// L2-normalised), in bounded memory.
///
/// Queries are scored in chunks with one sgemm per chunk (chunk × corpus scores), then each query's row
/// is reduced to its k best by a bounded heap. Peak extra memory is the chunk's score block plus the
/// results (queries × k): never queries × corpus, which is what exhausted the reference's RAM at 100k × 100k
/// (its issue #3164). The chunk's row count comes from `memoryBudget`.
///
/// Order: descending score, ties to the lower corpus index (deterministic; the reference's `torch.topk`
/// leaves tie order unspecified, SEMANTICS.md §3.3). When the corpus has fewer than k texts, each row is
/// padded to k with score `-inf` and index -1, as the reference pads since its #3873.
public enum TopKSearch {
    public struct Result: Sendable {
        /// Slots per query.
        public let k: Int
        /// `scores[q * k + j]`: the j-th best score of query q (`-inf` for padding).
        public var scores: [Float]
        /// `indices[q * k + j]`: its corpus index (-1 for padding).
        public var indices: [Int32]
    }

    /// Default budget for one chunk's score block: 256 MiB (e.g. 670 queries at a time against 100k texts).
    public static let defaultMemoryBudget = 256 << 20

    /// Query rows per chunk so that the chunk's scores (rows × corpusCount floats) fit in `memoryBudget`
    /// bytes; at least 1, at most `queryCount`.
    public static func chunkRows(queryCount: Int, corpusCount: Int, memoryBudget: Int) -> Int {
        let perRow = max(1, corpusCount) * MemoryLayout<Float>.size
        return max(1, min(max(queryCount, 1), memoryBudget / perRow))
    }

    /// `queries` is [queryCount, dim] and `corpus` [corpusCount, dim], row-major. `progress(done)` is
    /// called with the number of queries searched after each chunk.
    public static func search(queries: UnsafePointer<Float>, queryCount: Int, corpus: UnsafePointer<Float>, corpusCount: Int,
                              dim: Int, k: Int, memoryBudget: Int = defaultMemoryBudget,
                              progress: ((Int) -> Void)? = nil) -> Result {
        precondition(k >= 1 && dim >= 1)
        var scores = [Float](repeating: -.infinity, count: queryCount * k)
        var indices = [Int32](repeating: -1, count: queryCount * k)
        let kept = min(k, corpusCount)
        guard queryCount > 0, kept > 0 else { return Result(k: k, scores: scores, indices: indices) }
        let rows = chunkRows(queryCount: queryCount, corpusCount: corpusCount, memoryBudget: memoryBudget)
        let block = FloatBuffer(uninitializedCount: rows * corpusCount)
        scores.withUnsafeMutableBufferPointer { outScores in
            indices.withUnsafeMutableBufferPointer { outIndices in
                let outS = outScores.baseAddress!, outI = outIndices.baseAddress!
                for start in stride(from: 0, to: queryCount, by: rows) {
                    let count = min(rows, queryCount - start)
                    BLAS.gemm(transB: true, m: count, n: corpusCount, k: dim, a: queries + start * dim, lda: dim,
                              b: corpus, ldb: dim, beta: 0, c: block.pointer, ldc: corpusCount)
                    // Rows are independent: each worker selects into its own disjoint output slots.
                    parallelChunks(count, minimumChunk: 16) { range in
                        var heap = TopKHeap(capacity: kept)
                        for r in range {
                            heap.removeAll()
                            let row = block.pointer + r * corpusCount
                            for j in 0..<corpusCount { heap.offer(score: row[j], index: Int32(j)) }
                            let q = start + r
                            heap.drainDescending(scores: outS + q * k, indices: outI + q * k)
                        }
                    }
                    progress?(start + count)
                }
            }
        }
        return Result(k: k, scores: scores, indices: indices)
    }
}

/// The k best (score, index) pairs seen so far: a binary min-heap whose root is the worst kept pair, so
/// a candidate costs one comparison unless it enters. "Better" is a higher score, or an equal score at a
/// lower index — candidates arrive in index order, so an equal score never displaces a kept one.
struct TopKHeap {
    let capacity: Int
    private(set) var scores: [Float]
    private(set) var indices: [Int32]
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        scores = [Float](repeating: 0, count: capacity)
        indices = [Int32](repeating: 0, count: capacity)
    }

    mutating func removeAll() { count = 0 }

    /// Whether (s1, i1) ranks below (s2, i2).
    @inline(__always)
    static func worse(_ s1: Float, _ i1: Int32, than s2: Float, _ i2: Int32) -> Bool {
        s1 < s2 || (s1 == s2 && i1 > i2)
    }

    @inline(__always)
    mutating func offer(score: Float, index: Int32) {
        if count < capacity {
            var i = count
            count += 1
            // Sift up.
            while i > 0 {
                let parent = (i - 1) / 2
                guard Self.worse(score, index, than: scores[parent], indices[parent]) else { break }
                scores[i] = scores[parent]; indices[i] = indices[parent]
                i = parent
            }
            scores[i] = score; indices[i] = index
            return
        }
        guard Self.worse(scores[0], indices[0], than: score, index) else { return }
        siftDown(score: score, index: index, size: count)
    }

    /// Places (score, index) at the root of a heap of `size` and restores the heap order.
    private mutating func siftDown(score: Float, index: Int32, size: Int) {
        var i = 0
        while true {
            var child = 2 * i + 1
            if child >= size { break }
            if child + 1 < size && Self.worse(scores[child + 1], indices[child + 1], than: scores[child], indices[child]) {
                child += 1
            }
            guard Self.worse(scores[child], indices[child], than: score, index) else { break }
            scores[i] = scores[child]; indices[i] = indices[child]
            i = child
        }
        scores[i] = score; indices[i] = index
    }

    /// Writes the kept pairs best first into `scores`/`indices` (count slots) and empties the heap.
    mutating func drainDescending(scores outS: UnsafeMutablePointer<Float>, indices outI: UnsafeMutablePointer<Int32>) {
        // Repeatedly move the worst to the end of the live region: the slots fill from the back.
        while count > 0 {
            let last = count - 1
            outS[last] = scores[0]; outI[last] = indices[0]
            let s = scores[last], i = indices[last]
            count = last
            if last > 0 { siftDown(score: s, index: i, size: last) }
        }
    }
}
