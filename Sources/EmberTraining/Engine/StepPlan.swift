import EmberCore

/// The optimiser steps of a run, computed lazily: step `i` is a list of micro-batches (epoch, row
/// indices). The sampler's batches of an epoch are grouped `gradientAccumulationSteps` at a time (fewer
/// at the end of an epoch); epochs follow each other until `epochs` are done or `maxSteps` is reached
/// (cycling through more epochs if needed).
///
/// Nothing of size O(steps) is built: memory is one epoch's batches (the epoch last asked for), so
/// `--max-steps 10000000` costs what one epoch costs. Training walks forward; random access to an
/// earlier epoch re-runs the (deterministic, seeded) sampler from epoch 0.
public final class StepPlan: RandomAccessCollection {
    public typealias Element = [(epoch: Int, rows: [Int])]
    public let startIndex = 0
    public let endIndex: Int
    let sampler: BatchSampling
    let accumulation: Int
    /// Where the last look-up ended: an epoch, its first step and the micro-batches before it, and its
    /// batches. Training walks forward, so each epoch's batches are drawn once.
    private var cursor: (epoch: Int, firstStep: Int, microBefore: Int, batches: [[Int]])

    public init(rows: [[String]], configuration c: TrainingConfiguration) {
        sampler = c.noDuplicates
            ? NoDuplicatesBatchSampler(rows: rows, batchSize: c.batchSize, seed: c.seed, dropLast: c.dropLast)
            : BatchSampler(rows: rows, batchSize: c.batchSize, seed: c.seed, dropLast: c.dropLast)
        accumulation = c.gradientAccumulationSteps
        cursor = (0, 0, 0, rows.isEmpty ? [] : sampler.batches(epoch: 0))
        stepsPerEpoch = Self.steps(batches: cursor.batches.count, accumulation)
        if cursor.batches.isEmpty {
            endIndex = 0
        } else if let maxSteps = c.maxSteps {
            endIndex = maxSteps
        } else {
            var total = stepsPerEpoch
            for epoch in 1..<Swift.max(c.epochs, 1) { total += Self.steps(batches: sampler.batches(epoch: epoch).count, accumulation) }
            endIndex = total
        }
    }

    /// Optimiser steps of an epoch with `batches` batches.
    static func steps(batches: Int, _ accumulation: Int) -> Int { (batches + accumulation - 1) / accumulation }

    /// Moves the cursor to the epoch holding step `index`.
    private func locate(_ index: Int) {
        if index < cursor.firstStep { cursor = (0, 0, 0, sampler.batches(epoch: 0)) }
        while index >= cursor.firstStep + Self.steps(batches: cursor.batches.count, accumulation) {
            let next = cursor.epoch + 1
            cursor = (next, cursor.firstStep + Self.steps(batches: cursor.batches.count, accumulation),
                      cursor.microBefore + cursor.batches.count, sampler.batches(epoch: next))
            precondition(!cursor.batches.isEmpty, "an epoch without batches")
        }
    }

    public subscript(index: Int) -> Element {
        precondition(index >= 0 && index < endIndex, "step \(index) outside the plan")
        locate(index)
        let start = (index - cursor.firstStep) * accumulation
        return cursor.batches[start..<Swift.min(cursor.batches.count, start + accumulation)].map { (epoch: cursor.epoch, rows: $0) }
    }

    /// The run-wide index of step `index`'s first micro-batch (dropout streams are keyed by it).
    public func firstMicroStep(of index: Int) -> Int {
        locate(index)
        return cursor.microBefore + (index - cursor.firstStep) * accumulation
    }

    /// Optimiser steps in the first epoch.
    public let stepsPerEpoch: Int

    /// The fractional epoch once step `index` is done: its epoch plus the share of that epoch's steps
    /// done. Epochs of the no-duplicates sampler differ in length, so the first epoch's count would drift
    /// (a 4-epoch run ending at "epoch 4.125").
    public func epochPosition(afterStep index: Int) -> Double {
        locate(index)
        let steps = Self.steps(batches: cursor.batches.count, accumulation)
        return Double(cursor.epoch) + Double(index - cursor.firstStep + 1) / Double(Swift.max(steps, 1))
    }
}
