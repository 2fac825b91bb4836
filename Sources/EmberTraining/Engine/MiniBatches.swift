import EmberCore

/// How GradCache splits each column of a batch into mini-batches (spec §4.2 step 1). The ranges are
/// fixed before any forward pass and replayed unchanged in stage 3.
public enum MiniBatching: Equatable, Sendable {
    /// No caching: the whole batch runs with activations kept (plain training).
    case none
    /// Fixed-size mini-batches [0,m), [m,2m), …
    case size(Int)
    /// Greedy token-budget packing: extend a mini-batch while its token count stays ≤ budget; a
    /// sequence longer than the budget gets a mini-batch of its own.
    case tokens(Int)

    public var isCached: Bool { self != .none }

    /// Rows per anchor chunk in the loss stage: the mini-batch size, or for token budgets (which have no
    /// row count) 32 — the reference always chunks the loss by count.
    public var lossChunkRows: Int? {
        switch self {
        case .none: return nil
        case .size(let m): return m
        case .tokens: return 32
        }
    }

    /// The mini-batch ranges of one column whose sequences have `lengths` tokens.
    public func ranges(lengths: [Int]) -> [Range<Int>] {
        let n = lengths.count
        switch self {
        case .none:
            return n == 0 ? [] : [0..<n]
        case .size(let m):
            return stride(from: 0, to: n, by: m).map { $0..<min(n, $0 + m) }
        case .tokens(let budget):
            var ranges: [Range<Int>] = []
            var start = 0
            while start < n {
                var end = start + 1
                var total = lengths[start]
                while end < n && total + lengths[end] <= budget { total += lengths[end]; end += 1 }
                ranges.append(start..<end)
                start = end
            }
            return ranges
        }
    }
}
