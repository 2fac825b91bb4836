import EmberCore
import EmberLosses
import EmberModel
import EmberMPI
import Foundation

/// One contrastive batch, tokenized: `columns[c][i]` is row i of column c (column 0 anchors, 1
/// positives, 2… hard negatives); `texts` are the raw strings (the guide model tokenizes them itself).
public struct TokenizedBatch {
    public let columns: [[[Int32]]]
    public let texts: [[String]]
    public init(columns: [[[Int32]]], texts: [[String]]) {
        self.columns = columns
        self.texts = texts
    }
    public var rows: Int { columns.first?.count ?? 0 }
}

/// The result of one forward/backward over a batch.
public struct StepResult {
    public let loss: Double
    public let components: [String: Double]
    /// Tokens the trained model embedded (every column) and the step's useful floating-point operations:
    /// the model's forward and backward over them (3× the forward), not GradCache's replays nor the guide.
    public var tokens = 0
    public var usefulFlops = 0.0
}

/// The embedding stage of training, shared by every loss. Either plain — each column embedded with
/// activations kept, loss, backward — or GradCache (Gao et al. 2021) in three explicit stages:
///   1. `embedColumns`: embed every mini-batch of every column, keeping the activations of as many
///      mini-batches as fit in `activationBudget` bytes (none under the classic scheme);
///   2. `lossStage`: the loss and dL/dE on the cached embeddings, chunked over anchor rows;
///   3. `backPropagate`: for each mini-batch, back-propagate its slice of dL/dE — straight from the kept
///      activations, or after re-running its forward (identical dropout masks: they are functions of
///      (seed, step, column, row); identical ranges, so the replayed forward is bit-identical to stage 1's).
/// Keeping or replaying a mini-batch gives the same parameter gradients bit for bit; the budget only
/// trades memory for the replay's forward (a quarter of a cached step's FLOPs).
/// Plain training is the same three stages with every column split only across the workers and all
/// activations kept.
///
/// Workers: the mini-batches of a step are independent, so `CoreWorkers` runs them one per core (job j on
/// worker j mod W, a fixed assignment). Worker 0 accumulates into the model's gradients; worker w > 0 into
/// its own copy of the model (shared weight values, `SentenceModel.sharingValues`), added to the model's in
/// worker order after stage 3 — deterministic for a given worker count.
/// Data-parallel (`communicator` of N > 1 ranks, DataParallel.swift): every rank has the same global batch
/// and embeds only its shard of each column's rows; the embeddings (and the guide's) are all-gathered
/// between stages 1 and 2, so every rank computes the same loss on the whole batch, and stage 3
/// back-propagates only the rank's own rows. Jobs keep their global row numbers, so dropout masks do not
/// depend on N. The trainer sums the parameter gradients over the ranks before clipping.
/// Both paths give the same loss and parameter gradients: caching changes memory, not mathematics.
public final class GradCacheEngine {
    public let model: SentenceModel
    public let loss: EmbeddingLoss
    public let guide: GuideEmbedder?
    public let miniBatching: MiniBatching
    public let hiddenDropout: Float
    public let attentionDropout: Float
    public let seed: UInt64
    /// Per column, the prompt tokens masked out of pooling (include_prompt false, `ember train --prompts`);
    /// empty or 0 for none. The same in stage 1 and the replay, so cached and replayed embeddings agree.
    public var promptLengths: [Int] = []
    /// GradCache: bytes of mini-batch activations stage 1 may keep for stage 3 (`--activation-memory`);
    /// 0 = replay every mini-batch (classic GradCache). Ignored by plain training, which keeps everything.
    public var activationBudget: Int = GradCacheEngine.defaultActivationBudget
    /// The ranks of a data-parallel run (`.single`: this process alone).
    public var communicator: Communicator = .single
    /// Worker threads per step (`CoreWorkers`); 1 runs every mini-batch on this thread with threaded BLAS.
    public var workers: Int = CoreWorkers.count {
        didSet { precondition(workers >= 1, "at least one worker") }
    }
    /// Per worker w ≥ 1, a model sharing the weights with its own gradients (made on first use).
    private var workerModels: [SentenceModel] = []
    /// What the last step did: mini-batches kept and replayed (for logs and tests).
    public private(set) var lastStepKept = 0, lastStepReplayed = 0
    /// Bytes of embeddings all-gathered since the trainer last reset it (the whole matrices every rank ends
    /// up holding, the guide's included; 0 in a world of one).
    public internal(set) var gatheredBytes = 0

    /// The default activation budget: 1/16 of physical memory, at most 448 MiB — chosen so that cached
    /// training's peak RSS stays below sentence-transformers' at every batch size measured (bench/perf.sh)
    /// while a batch of 128 short pairs keeps nearly all its mini-batches.
    public static var defaultActivationBudget: Int {
        min(448 << 20, Int(ProcessInfo.processInfo.physicalMemory / 16))
    }

    func promptLength(column c: Int) -> Int { c < promptLengths.count ? promptLengths[c] : 0 }

    public init(model: SentenceModel, loss: EmbeddingLoss, guide: GuideEmbedder? = nil, miniBatching: MiniBatching,
                hiddenDropout: Float, attentionDropout: Float, seed: UInt64) throws {
        if loss.needsGuide && guide == nil { throw EmberError("--guide: the \(loss.name) loss needs a guide model") }
        self.model = model
        self.loss = loss
        self.guide = guide
        self.miniBatching = miniBatching
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.seed = seed
    }

    /// Dropout for rows `range` of `column` at `step` (nil when dropout is off).
    func dropout(step: Int, column: Int, range: Range<Int>) -> EncoderDropout? {
        guard hiddenDropout > 0 || attentionDropout > 0 else { return nil }
        return EncoderDropout(hiddenProbability: hiddenDropout, attentionProbability: attentionDropout,
                              sequenceKeys: range.map { DropoutStreams.sequenceKey(seed: seed, step: step, column: column, row: $0) })
    }

    /// One unit of stage 1 and stage 3: rows `range` of column `column`.
    public struct Job: Equatable {
        public let column: Int
        public let range: Range<Int>
    }

    /// This rank's jobs, column by column, over its shard of the rows (all rows in a world of one):
    /// GradCache's mini-batches, or for plain training the shard cut into one slice per worker.
    public func jobs(_ batch: TokenizedBatch) -> [Job] {
        batch.columns.enumerated().flatMap { c, column -> [Job] in
            let shard = communicator.shard(column.count)
            let ranges: [Range<Int>]
            if miniBatching.isCached {
                ranges = miniBatching.ranges(lengths: column[shard].map(\.count))
            } else {
                let n = shard.count, parts = min(workers, max(1, n)), size = (n + parts - 1) / max(1, parts)
                ranges = n == 0 ? [] : stride(from: 0, to: n, by: size).map { $0..<min(n, $0 + size) }
            }
            return ranges.map { Job(column: c, range: ($0.lowerBound + shard.lowerBound)..<($0.upperBound + shard.lowerBound)) }
        }
    }

    /// Which jobs keep their activations from stage 1 to stage 3: all in plain training; under GradCache the
    /// first ones, in job order, while their activations fit in `activationBudget`.
    public func keptJobs(_ batch: TokenizedBatch, jobs: [Job]) -> [Bool] {
        if !miniBatching.isCached { return jobs.map { _ in true } }
        var used = 0, open = true
        return jobs.map { job in
            let bytes = BertActivations.keptBytes(config: model.config, lengths: batch.columns[job.column][job.range].map(\.count))
            guard open, used + bytes <= activationBudget else { open = false; return false }
            used += bytes
            return true
        }
    }

    /// Forward + backward of one batch. Parameter gradients are accumulated (+=) scaled by `gradientScale`
    /// (1/accumulation steps); the returned loss is unscaled.
    public func step(_ batch: TokenizedBatch, step: Int, gradientScale: Float = 1) throws -> StepResult {
        let guideEmbeddings = try guideColumns(batch)
        let jobs = jobs(batch)
        let keep = keptJobs(batch, jobs: jobs)
        lastStepKept = keep.filter { $0 }.count
        lastStepReplayed = jobs.count - lastStepKept
        var (embeddings, tapes) = Profiler.measure("stage 1: embed") { embedColumns(batch, jobs: jobs, keep: keep, step: step) }
        if communicator.size > 1 { embeddings = Profiler.measure("gather embeddings") { gatherShards(embeddings) } }
        let output = try Profiler.measure("stage 2: loss") {
            try lossStage(embeddings, guide: guideEmbeddings, step: step)
        }
        Profiler.measure("stage 3: backward") {
            backPropagate(batch, jobs: jobs, tapes: tapes, gradients: output.gradients, step: step, gradientScale: gradientScale)
        }
        let lengths = batch.columns.joined().map(\.count)
        return StepResult(loss: output.loss, components: output.components, tokens: lengths.reduce(0, +),
                          usefulFlops: 3 * model.config.forwardFlops(lengths: lengths))
    }

    /// The model worker `w` runs on: the model itself for worker 0, a gradient-separate copy otherwise.
    func model(worker w: Int) -> SentenceModel {
        if w == 0 { return model }
        while workerModels.count < w { workerModels.append(model.sharingValues()) }
        return workerModels[w - 1]
    }

    /// Runs `body(job index, worker model)` over the jobs, job j on worker j mod W, each worker in job order.
    func forEachJob(_ count: Int, _ body: (Int, SentenceModel) -> Void) {
        let w = max(1, min(workers, count))
        let models = (0..<w).map { model(worker: $0) }   // made here, not on the workers
        CoreWorkers.run(workers: w) { worker in
            for j in stride(from: worker, to: count, by: w) { body(j, models[worker]) }
        }
    }

    /// One job's training forward. Stage 1 and the replay both call this, so a replayed mini-batch sees the
    /// same rows, dropout keys and prompt mask as its first pass — what makes the two bit-identical.
    func forward(_ batch: TokenizedBatch, _ job: Job, step: Int, keepActivations: Bool,
                 on worker: SentenceModel) -> (FloatBuffer, EmbeddingTape?) {
        worker.embedForTraining(Array(batch.columns[job.column][job.range]),
                                dropout: dropout(step: step, column: job.column, range: job.range),
                                keepActivations: keepActivations, promptLength: promptLength(column: job.column))
    }

    /// Stage 1: every column's embeddings [B × D], one forward per job, with activations kept where `keep`
    /// says (their tapes are returned for stage 3). Stage 3 replays the same ranges: a product's rounding can
    /// depend on how many rows it has, and the same ranges make the replayed embeddings bit-identical to
    /// the cached ones (spec §14 P4).
    public func embedColumns(_ batch: TokenizedBatch, jobs: [Job], keep: [Bool], step: Int) -> ([Matrix], [EmbeddingTape?]) {
        let D = model.embeddingDimension
        // Workers write disjoint rows of plain buffers (a Swift array must not be mutated from two threads).
        let buffers = batch.columns.map { UnsafeMutableBufferPointer<Double>.allocate(capacity: $0.count * D) }
        defer { buffers.forEach { $0.deallocate() } }
        var tapes = [EmbeddingTape?](repeating: nil, count: jobs.count)
        let tapeLock = NSLock()
        forEachJob(jobs.count) { j, worker in
            let job = jobs[j]
            let (e, tape) = forward(batch, job, step: step, keepActivations: keep[j], on: worker)
            let out = buffers[job.column].baseAddress! + job.range.lowerBound * D
            for i in 0..<(job.range.count * D) { out[i] = Double(e[i]) }
            if let tape {
                tapeLock.lock()
                tapes[j] = tape
                tapeLock.unlock()
            }
        }
        let matrices = zip(batch.columns, buffers).map { Matrix(rows: $0.0.count, cols: D, values: Array($0.1)) }
        return (matrices, tapes)
    }

    /// Stage 1 alone over given per-column ranges, nothing kept (for tests and the data-parallel path).
    public func embedColumns(_ batch: TokenizedBatch, ranges: [[Range<Int>]], step: Int) -> [Matrix] {
        let jobs = ranges.enumerated().flatMap { c, rs in rs.map { Job(column: c, range: $0) } }
        return embedColumns(batch, jobs: jobs, keep: jobs.map { _ in false }, step: step).0
    }

    /// Stage 2: the loss and its gradient with respect to every cached embedding.
    public func lossStage(_ embeddings: [Matrix], guide: [Matrix]?, step: Int) throws -> LossOutput {
        try loss.lossAndGradients(columns: embeddings, guide: guide,
                                  chunkRows: miniBatching.isCached ? miniBatching.lossChunkRows : nil, step: step)
    }

    /// Stage 3: each job's slice of dL/dE through its kept tape, or through a replayed forward.
    public func backPropagate(_ batch: TokenizedBatch, jobs: [Job], tapes: [EmbeddingTape?], gradients: [Matrix],
                              step: Int, gradientScale: Float) {
        let w = max(1, min(workers, jobs.count))
        for worker in 1..<w { for p in model(worker: worker).parameters { p.zeroGrad() } }
        forEachJob(jobs.count) { j, worker in
            let job = jobs[j]
            let tape = tapes[j] ?? forward(batch, job, step: step, keepActivations: true, on: worker).1!
            let g = floats(gradients[job.column], rows: job.range, scale: gradientScale)
            worker.backward(tape, dEmbeddings: g.pointer)
        }
        if w > 1 {
            Profiler.measure("stage 3: sum workers") {
                let total = model.parameters
                for worker in 1..<w {
                    for (p, q) in zip(total, model(worker: worker).parameters) where q.hasGrad {
                        Elementwise.add(p.grad.pointer, q.grad.pointer, p.grad.pointer, count: p.count)
                    }
                }
            }
        }
    }

    func floats(_ m: Matrix, rows: Range<Int>, scale: Float) -> FloatBuffer {
        let out = FloatBuffer(count: rows.count * m.cols)
        let base = rows.lowerBound * m.cols
        for i in 0..<out.count { out[i] = Float(m.values[base + i]) * scale }
        return out
    }
}
