import EmberCore
import EmberLosses
import EmberModel
import EmberMPI
import Foundation

/// Data-parallel training over the ranks of an mpirun job: N processes that together compute exactly
/// what one process computes for the same global batches.
///
/// Every rank draws the same global batch (same sampler, same seed) and, for each column, embeds only its
/// shard of the rows (`Communicator.shard`: contiguous, sizes differing by at most one, so a batch need not
/// divide by N). The shards travel as Float — the embeddings are Float before the loss widens them — so
/// the gathered matrices equal what one process would have cached for those rows. Each rank then computes
/// the same loss on the whole batch (stage 2: 4 ms at batch 128, 0.37 s at 2048, growing with the square
/// of the batch — the first thing to divide among ranks when batches grow; the losses are whole-batch
/// functions today), back-propagates its own rows' dL/dE, and the parameter gradients are summed over the
/// ranks before clipping. The optimiser step is deterministic, so every rank ends each step with the same
/// weights; `checkRanksAgree` verifies that at every checkpoint and at the end.
///
/// What crosses the network per step: the embeddings, Σ_columns B × D × 4 bytes (plus the guide's for
/// GIST), gathered to every rank; and the gradients, 4 bytes per trained parameter, all-reduced — of the
/// word embeddings only the rows of the step's tokens.
extension GradCacheEngine {
    /// Whole columns from every rank's shard of them: rank r contributes rows `shard(rows, r)` of its
    /// matrix (the rows its stage 1 filled); every rank receives all rows, in row order.
    func gatherShards(_ columns: [Matrix]) -> [Matrix] {
        columns.map { m in
            let own = communicator.shard(m.rows)
            return gather(m.values[(own.lowerBound * m.cols)..<(own.upperBound * m.cols)].map { Float($0) }, rows: m.rows, cols: m.cols)
        }
    }

    /// `own` is this rank's shard of a `rows` × `cols` matrix, row-major; returns the whole matrix.
    func gather(_ own: [Float], rows: Int, cols: Int) -> Matrix {
        let counts = (0..<communicator.size).map { communicator.shard(rows, rank: $0).count * cols }
        gatheredBytes += rows * cols * 4
        return Matrix(rows: rows, cols: cols, values: communicator.allGather(own, counts: counts).map(Double.init))
    }

    /// The guide's embeddings of every column (GIST), or nil without a guide. Across ranks each rank embeds
    /// its shard and the shards are gathered — then remembered in every rank's guide cache, so that a text
    /// seen again later is found by whichever rank then holds it.
    func guideColumns(_ batch: TokenizedBatch) throws -> [Matrix]? {
        guard let guide else { return nil }
        guard communicator.size > 1 else { return try batch.texts.map { try guide.embed($0) } }
        return try batch.texts.map { texts in
            let own = try guide.embed(Array(texts[communicator.shard(texts.count)]))
            let whole = Profiler.measure("gather guide") {
                gather(own.values.map { Float($0) }, rows: texts.count, cols: guide.model.embeddingDimension)
            }
            guide.remember(texts, whole)
            return whole
        }
    }
}

extension Trainer {
    /// Sums the parameter gradients over the ranks, in place; afterwards every rank holds the same sums.
    /// A parameter takes part if any rank has a gradient for it (a rank with an empty shard has none):
    /// the set is agreed first so that every rank makes the same calls, and a parameter no rank touched
    /// keeps no gradient, which the optimiser skips — as in one process.
    ///
    /// The word embeddings are half of MiniLM's parameters, but a step touches only the rows of the
    /// tokens in its batch, and every rank knows the whole batch: `wordRows` (sorted token ids of the
    /// step's global batch) are packed, summed and unpacked, and the other rows — zero on every rank —
    /// never travel. For a batch of 128 pairs of bench/pairs.jsonl (≈ 600 distinct tokens) the all-reduce
    /// carries 44.3 MB instead of 90.3 MB (metrics.jsonl's `allreduced_mb`).
    /// Returns the bytes all-reduced (each rank's buffer).
    @discardableResult
    func allReduceGradients(_ parameters: [Parameter], wordRows: [Int32]) -> Int {
        let communicator = engine.communicator
        guard communicator.size > 1 else { return 0 }
        var bytes = 0
        var touched = parameters.map { $0.hasGrad ? Float(1) : 0 }
        communicator.allReduceSum(&touched, count: touched.count)
        let word = model.encoder.weights.embeddings.wordEmbeddings
        for (p, t) in zip(parameters, touched) where t > 0 {
            guard p === word else {
                communicator.allReduceSum(p.grad.pointer, count: p.count)
                bytes += p.count * 4
                continue
            }
            let width = p.shape[1], g = p.grad.pointer
            let packed = FloatBuffer(uninitializedCount: wordRows.count * width)
            for (i, row) in wordRows.enumerated() { (packed.pointer + i * width).update(from: g + Int(row) * width, count: width) }
            communicator.allReduceSum(packed.pointer, count: packed.count)
            for (i, row) in wordRows.enumerated() { (g + Int(row) * width).update(from: packed.pointer + i * width, count: width) }
            bytes += packed.count * 4
        }
        return bytes
    }

    /// Collective check that every rank holds bit-identical weights (a 64-bit hash of every value,
    /// compared across ranks). Identical inputs and deterministic steps make them so; this turns a
    /// violation — a library whose all-reduce differs per rank, a rank loading other weights — into an
    /// error instead of a model that depends on which rank saved it.
    public func checkRanksAgree() throws {
        let communicator = engine.communicator
        guard communicator.size > 1 else { return }
        var hash = FNV64()
        hash.add(model.parameters)
        let hashes = communicator.allGather(bytes: hash.bytes)
        if let other = hashes.firstIndex(where: { $0 != hashes[0] }) {
            throw EmberError("after step \(completedSteps) rank \(other) holds other weights than rank 0; the ranks diverged (is every rank running the same Ember and Open MPI?)",
                             sameOnEveryRank: true)
        }
    }

    /// What the ranks must share to compute one run between them, hashed: the configuration, the loss and
    /// its options, the data rows and their token ids (which covers the tokenizer, its vocabulary,
    /// lowercasing and max_seq_length), the model's and the guide's config, pooling and normalisation, the
    /// prompts, the step to start from, the starting weights and the optimiser's moments. `ember train`
    /// compares it across ranks before the first step, so ranks started with other flags or files (mpirun's
    /// `-np 1 … : -np 1 …` form, a stale copy on one host) are refused instead of exchanging buffers that do
    /// not match — the word-embedding all-reduce, for one, is sized by the step's token ids.
    public func runFingerprint() -> [UInt8] {
        var hash = FNV64()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        hash.add(Array((try? encoder.encode(configuration)) ?? Data()))
        hash.add(Array(lossSignature.utf8))
        func describe(_ m: SentenceModel) {
            hash.add(Array("\(m.encoder.config)|\(m.pooling)|\(m.normalize)|\(m.maxSequenceLength)|\(m.lowercaseInput)".utf8))
        }
        describe(model)
        for (row, ids) in zip(data.rows, tokenized) {
            for (text, tokens) in zip(row, ids) {
                hash.add(Array(text.utf8))
                hash.add(tokens)
            }
            hash.add([UInt8(1)])
        }
        for n in [completedSteps, plan.count] + engine.promptLengths { hash.add(withUnsafeBytes(of: Int64(n).littleEndian) { Array($0) }) }
        hash.add(model.parameters)
        for (name, tensor) in optimizer.stateTensors().sorted(by: { $0.key < $1.key }) {
            hash.add(Array(name.utf8))
            hash.add(tensor.data)
        }
        if let guide = engine.guide {
            describe(guide.model)
            for text in data.rows.prefix(64).joined() { hash.add(guide.model.tokenize(text)) }   // its tokenizer
            hash.add(guide.model.parameters)
        }
        return hash.bytes
    }
}

/// 64-bit FNV-1a: a hash every rank computes identically (Swift's `Hasher` is seeded per process).
struct FNV64 {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        for b in bytes { state = (state ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    }

    /// Every value's bit pattern, a word at a time (22.7 M values of MiniLM in ≈ 20 ms).
    mutating func add(_ parameters: [Parameter]) {
        for p in parameters { add(p.value) }
    }

    mutating func add(_ ids: [Int32]) {
        for id in ids { state = (state ^ UInt64(UInt32(bitPattern: id))) &* 0x0000_0100_0000_01b3 }
        state = (state ^ 0xff) &* 0x0000_0100_0000_01b3   // the end of the sequence
    }

    mutating func add(_ values: FloatBuffer) {
        let v = values.pointer
        for i in 0..<values.count { state = (state ^ UInt64(v[i].bitPattern)) &* 0x0000_0100_0000_01b3 }
    }

    var bytes: [UInt8] { withUnsafeBytes(of: state.littleEndian) { Array($0) } }
}
