import EmberCore
/// Something that splits the rows of a training set into batches (lists of row indices), afresh for
/// each epoch, deterministically from a seed.
public protocol BatchSampling {
    init(rows: [[String]], batchSize: Int, seed: UInt64, dropLast: Bool)
    /// The batches of epoch `epoch` (0-based). The same (rows, batchSize, seed, dropLast, epoch) always
    /// gives the same batches.
    func batches(epoch: Int) -> [[Int]]
}

/// The random permutation both samplers start from. Seeded with `seed + epoch` as
/// sentence-transformers' samplers seed their torch generator (`set_epoch`), so (seed 42, epoch 1)
/// and (seed 43, epoch 0) give the same order — there as here. The order itself cannot match
/// `torch.randperm`: it is a Fisher–Yates shuffle driven by `Xoshiro256StarStar`, defined here (not
/// Swift's `shuffled(using:)`, whose algorithm the standard library does not promise to keep).
func epochPermutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
    var generator = Xoshiro256StarStar(seed: seed &+ UInt64(bitPattern: Int64(epoch)))
    var order = Array(0..<count)
    var i = count - 1
    while i > 0 {
        let j = Int(generator.next(below: UInt64(i + 1)))
        order.swapAt(i, j)
        i -= 1
    }
    return order
}

/// torch's default for training (`BatchSampler(RandomSampler)`, sentence-transformers'
/// `BatchSamplers.BATCH_SAMPLER`): a random permutation cut into consecutive batches; the last,
/// short batch is kept unless `dropLast`. Batches may contain the same text twice.
public struct BatchSampler: BatchSampling {
    public let rowCount: Int
    public let batchSize: Int
    public let seed: UInt64
    public let dropLast: Bool

    public init(rows: [[String]], batchSize: Int, seed: UInt64, dropLast: Bool = false) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        self.rowCount = rows.count
        self.batchSize = batchSize
        self.seed = seed
        self.dropLast = dropLast
    }

    public func batches(epoch: Int) -> [[Int]] {
        let order = epochPermutation(count: rowCount, seed: seed, epoch: epoch)
        var result: [[Int]] = []
        var start = 0
        while start < rowCount {
            let end = min(start + batchSize, rowCount)
            if end - start == batchSize || !dropLast { result.append(Array(order[start..<end])) }
            start = end
        }
        return result
    }
}

/// sentence-transformers' `NoDuplicatesBatchSampler` (spec §10.1): no text occurs twice in a batch,
/// in any column — otherwise an in-batch-negatives loss would push a row away from its own match.
///
/// Each epoch, over a seeded permutation (see `epochPermutation`): scan the remaining indices in
/// order, accepting a row when none of its values is already in the batch (a skipped row stays in
/// place for later batches); a batch that reaches `batchSize` is yielded at once and the next scan
/// starts again from the front. A scan that ends short yields its partial batch unless `dropLast`
/// (its rows are consumed either way). Repeat until no index remains. This is the historical
/// ordered-dict algorithm, whose output the library's later linked-list version reproduces; epochs
/// can therefore have more (short) batches than ceil(N / batchSize).
///
/// Equality is exact code-point equality, as Python's `str` comparison: `StringInterner` maps each
/// distinct string (by its UTF-8 bytes) to an integer id once, at init, so building batches only
/// compares ids against an array of "last batch seen" stamps. 100k rows × 3 columns: ≈ 0.1 s to
/// intern, ≈ 10 ms per epoch.
public struct NoDuplicatesBatchSampler: BatchSampling {
    public let rowCount: Int
    public let batchSize: Int
    public let seed: UInt64
    public let dropLast: Bool
    /// The interned values of row `i`: `valueIDs[valueStart[i] ..< valueStart[i + 1]]`.
    private let valueIDs: [Int32]
    private let valueStart: [Int]
    private let distinctValues: Int

    public init(rows: [[String]], batchSize: Int, seed: UInt64, dropLast: Bool = false) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        self.rowCount = rows.count
        self.batchSize = batchSize
        self.seed = seed
        self.dropLast = dropLast
        let total = rows.reduce(0) { $0 + $1.count }
        var interner = StringInterner(expectedCount: total)
        var valueIDs: [Int32] = []
        var valueStart: [Int] = [0]
        valueIDs.reserveCapacity(total)
        valueStart.reserveCapacity(rows.count + 1)
        for row in rows {
            for value in row { valueIDs.append(interner.id(of: value)) }
            valueStart.append(valueIDs.count)
        }
        self.valueIDs = valueIDs
        self.valueStart = valueStart
        self.distinctValues = interner.count
    }

    public func batches(epoch: Int) -> [[Int]] {
        let order = epochPermutation(count: rowCount, seed: seed, epoch: epoch)
        // The remaining indices as a doubly linked list over positions in `order` (with sentinels
        // head = count, tail = count + 1): a row is unlinked in O(1) once it is batched, and scans
        // walk only what remains.
        let head = rowCount, tail = rowCount + 1
        var next = [Int](repeating: 0, count: rowCount + 2)
        var previous = [Int](repeating: 0, count: rowCount + 2)
        var last = head
        for position in 0..<rowCount {
            next[last] = position
            previous[position] = last
            last = position
        }
        next[last] = tail
        previous[tail] = last
        func unlink(_ position: Int) {
            next[previous[position]] = next[position]
            previous[next[position]] = previous[position]
        }

        // stamp[v] == batchNumber ⇔ value v is in the batch being built.
        var stamp = [Int](repeating: -1, count: distinctValues)
        var batchNumber = 0
        var result: [[Int]] = []
        result.reserveCapacity(rowCount / batchSize + 1)
        valueIDs.withUnsafeBufferPointer { ids in
            while next[head] != tail {
                var batch: [Int] = []
                batch.reserveCapacity(batchSize)
                var accepted: [Int] = []  // positions, to unlink after the scan
                var full = false
                var position = next[head]
                while position != tail {
                    let row = order[position]
                    let values = ids[valueStart[row]..<valueStart[row + 1]]
                    if !values.contains(where: { stamp[Int($0)] == batchNumber }) {
                        batch.append(row)
                        accepted.append(position)
                        if batch.count == batchSize { full = true; break }
                        for v in values { stamp[Int(v)] = batchNumber }
                    }
                    position = next[position]
                }
                if full || !dropLast { result.append(batch) }
                for p in accepted { unlink(p) }
                batchNumber += 1
            }
        }
        return result
    }
}
