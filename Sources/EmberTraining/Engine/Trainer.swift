import EmberCore
import EmberLosses
import EmberModel
import EmberMPI
import Foundation

/// What the trainer reports after each optimiser step (one metrics line).
public struct StepMetrics {
    public let step: Int              // optimiser steps done (1-based)
    public let totalSteps: Int
    public let epoch: Double          // fractional epoch
    public let loss: Double
    public let components: [String: Double]
    public let learningRate: Float
    public let gradNorm: Float
    /// This step's loss or gradient was not finite and `skipNonFinite` left the weights as they were.
    public let skipped: Bool
    /// Steps skipped so far in the run.
    public let skippedSteps: Int
    public let pairsPerSecond: Double
    public let seconds: Double
    /// Tokens the step embedded and its useful GFLOP (`StepResult`): the benchmark's achieved rate.
    public var tokens = 0
    public var gigaflops = 0.0
    /// Data-parallel runs: bytes all-gathered (embeddings) and all-reduced (gradients) in this step.
    public var gatheredBytes = 0, allReducedBytes = 0

    /// The metrics JSON line (cli.md: step, epoch, loss, per-dim losses, lr, grad_norm, pairs_per_s, seconds;
    /// `skipped` and `skipped_steps` when `--skip-nonfinite` skipped steps).
    public var jsonLine: String {
        var object: [String: Any] = ["step": step, "epoch": (epoch * 1e4).rounded() / 1e4, "loss": loss,
                                     "lr": Double(learningRate), "grad_norm": Double(gradNorm),
                                     "pairs_per_s": (pairsPerSecond * 100).rounded() / 100, "seconds": (seconds * 1000).rounded() / 1000]
        if !components.isEmpty { object["losses"] = components }
        if tokens > 0 { object["tokens"] = tokens; object["gflop"] = (gigaflops * 1000).rounded() / 1000 }
        if gatheredBytes + allReducedBytes > 0 {
            object["gathered_mb"] = (Double(gatheredBytes) / 1e3).rounded() / 1e3
            object["allreduced_mb"] = (Double(allReducedBytes) / 1e3).rounded() / 1e3
        }
        if skipped { object["skipped"] = true }
        if skippedSteps > 0 { object["skipped_steps"] = skippedSteps }
        return JSONOutput.string(object)   // a non-finite loss of a skipped step is null
    }
}

/// The training loop: batches from the sampler, the GradCache engine's forward/backward, gradient
/// accumulation, clipping, the optimiser and the learning-rate schedule, checkpoints and resume.
///
/// Everything random is a pure function of the seed: the sampler's order of epoch e, dropout masks of
/// micro-step s. A resumed run therefore replays the exact same batches and masks from the step it
/// stopped at, and with the optimiser moments restored it ends with the same weights as an
/// uninterrupted run.
public final class Trainer {
    public let model: SentenceModel
    public let engine: GradCacheEngine
    public let data: TrainingData
    public let configuration: TrainingConfiguration
    public let optimizer: Optimizer
    public let schedule: LearningRateSchedule
    /// Micro-batches (epoch, row indices) of each optimiser step, computed lazily.
    public let plan: StepPlan
    public let warmupSteps: Int
    public private(set) var completedSteps = 0
    /// Steps skipped for a non-finite loss or gradient (`skipNonFinite`), for the metrics.
    public private(set) var skippedSteps = 0
    /// The best checkpoint so far by `--metric-for-best-model` (set by the caller after each evaluation;
    /// stored in every checkpoint and restored on resume).
    public var best: BestCheckpoint?
    /// The loss and all its parameters, as stored in a checkpoint: a resume with other loss options is refused.
    public let lossSignature: String
    let tokenized: [[[Int32]]]   // per data row, per column

    public var totalSteps: Int { plan.count }

    /// `communicator`: the ranks of a data-parallel run (DataParallel.swift); every rank builds its Trainer
    /// from the same model, data and configuration.
    public init(model: SentenceModel, loss: EmbeddingLoss, data: TrainingData, configuration: TrainingConfiguration,
                guide: GuideEmbedder? = nil, communicator: Communicator = .single) throws {
        try configuration.validate()
        try Precision.use(configuration.precision ?? .fp32)
        keepFreedMemoryForReuse()
        self.model = model
        self.data = data
        self.configuration = configuration
        let dropout = configuration.dropout
        engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: configuration.miniBatching,
                                     hiddenDropout: dropout ?? model.config.hiddenDropoutProb,
                                     attentionDropout: dropout ?? model.config.attentionProbsDropoutProb,
                                     seed: configuration.seed)
        if let budget = configuration.activationMemory { engine.activationBudget = budget }
        engine.communicator = communicator
        optimizer = configuration.optimizer == .adamw ? AdamW(weightDecay: configuration.weightDecay)
                                                      : SGD(weightDecay: configuration.weightDecay)
        schedule = LearningRateSchedule(rawValue: configuration.scheduler)!
        // Tokenize each distinct text once.
        var cache: [String: [Int32]] = [:]
        tokenized = data.rows.map { row in row.map { text in
            if let ids = cache[text] { return ids }
            let ids = model.tokenize(text)
            cache[text] = ids
            return ids
        } }
        plan = StepPlan(rows: data.rows, configuration: configuration)
        lossSignature = String(reflecting: loss)
        warmupSteps = configuration.warmupSteps ?? LearningRateSchedule.warmupSteps(ratio: 0.1, totalSteps: plan.count)
    }

    /// Runs optimiser steps from `completedSteps` until done (or until `stopAfter` steps are complete),
    /// calling `onStep` after each and `checkpoint` every `saveSteps`.
    public func run(stopAfter: Int? = nil, onStep: (StepMetrics) throws -> Void = { _ in },
                    checkpoint: (Int) throws -> Void = { _ in }) throws {
        let parameters = model.parameters
        let start = Date()
        Precision.weightsChanged()   // the weights may have been loaded or edited since the last forward
        while completedSteps < plan.count {
            if let stopAfter, completedSteps >= stopAfter { return }
            let stepStart = Date()
            let micro = plan[completedSteps]
            parameters.forEach { $0.zeroGrad() }
            var loss = 0.0, components: [String: Double] = [:], pairs = 0, tokens = 0, flops = 0.0
            // The dropout stream of a micro-batch is keyed by its run-wide index.
            let microStepBase = plan.firstMicroStep(of: completedSteps)
            var badRows: [Int] = [], tokenIds = Set<Int32>()
            for (k, batch) in micro.enumerated() {
                let tokenized = self.batch(rows: batch.rows)
                if engine.communicator.size > 1 { for column in tokenized.columns { for ids in column { tokenIds.formUnion(ids) } } }
                let result = try engine.step(tokenized, step: microStepBase + k, gradientScale: 1 / Float(micro.count))
                loss += result.loss / Double(micro.count)
                for (key, value) in result.components { components[key, default: 0] += value / Double(micro.count) }
                pairs += batch.rows.count
                tokens += result.tokens
                flops += result.usefulFlops
                if !result.loss.isFinite { badRows += batch.rows }
            }
            let allReduced = Profiler.measure("all-reduce gradients") { allReduceGradients(parameters, wordRows: tokenIds.sorted()) }
            let gathered = engine.gatheredBytes
            engine.gatheredBytes = 0
            let lr = schedule.learningRate(step: completedSteps, totalSteps: plan.count, warmupSteps: warmupSteps,
                                           peak: configuration.learningRate)
            let norm = Profiler.measure("clip") { clipGradientNorm(parameters, maxNorm: configuration.maxGradNorm) }
            var skipped = false
            if !loss.isFinite || !norm.isFinite {
                func name(_ x: Double) -> String { x.isNaN ? "NaN" : x > 0 ? "+infinity" : "-infinity" }
                let what = !loss.isFinite ? "the loss is \(name(loss))" : "the gradient norm is \(name(Double(norm)))"
                let rows = badRows.isEmpty ? "" : " (\(describe(rows: badRows)))"
                guard configuration.skipNonFinite else {
                    throw EmberError("training stopped at step \(completedSteps + 1): \(what)\(rows); nothing of this step was saved (--skip-nonfinite skips such steps)",
                                     sameOnEveryRank: true)
                }
                skipped = true
                skippedSteps += 1
            } else {
                Profiler.measure("optimizer") { optimizer.step(parameters, learningRate: lr) }
            }
            completedSteps += 1
            let elapsed = Date().timeIntervalSince(stepStart)
            let epochPosition = plan.epochPosition(afterStep: completedSteps - 1)
            try onStep(StepMetrics(step: completedSteps, totalSteps: plan.count, epoch: epochPosition, loss: loss,
                                   components: components, learningRate: lr, gradNorm: norm,
                                   skipped: skipped, skippedSteps: skippedSteps,
                                   pairsPerSecond: Double(pairs) / max(elapsed, 1e-9),
                                   seconds: Date().timeIntervalSince(start), tokens: tokens, gigaflops: flops / 1e9,
                                   gatheredBytes: gathered, allReducedBytes: allReduced))
            if let every = configuration.saveSteps, completedSteps % every == 0, completedSteps < plan.count {
                try checkRanksAgree()
                try checkpoint(completedSteps)
            }
        }
        try checkRanksAgree()
    }

    /// Data rows as the user finds them: 1-based line numbers of the file where known, else row numbers.
    func describe(rows: [Int]) -> String {
        let shown = rows.sorted().prefix(8).map { row in data.lineNumbers.map { "\($0[row])" } ?? "#\(row + 1)" }
        return (data.lineNumbers == nil ? "data rows " : "data lines ") + shown.joined(separator: ", ")
            + (rows.count > 8 ? ", … (\(rows.count) rows)" : "")
    }

    func batch(rows: [Int]) -> TokenizedBatch {
        let columns = data.columnNames.indices
        return TokenizedBatch(columns: columns.map { c in rows.map { tokenized[$0][c] } },
                              texts: columns.map { c in rows.map { data.rows[$0][c] } })
    }

    // MARK: - Checkpoints

    /// The run state a checkpoint stores next to the model and optimiser moments.
    public struct State: Codable {
        public var completedSteps: Int
        public var totalSteps: Int
        public var dataRows: Int
        public var loss: String
        /// The loss with all its parameters (nil in checkpoints of Ember before this field existed).
        public var lossSignature: String?
        public var skippedSteps: Int?
        /// The best checkpoint up to this one (`--load-best-model-at-end`).
        public var best: BestCheckpoint?
        public var configuration: TrainingConfiguration
        /// Ranks of the data-parallel run (nil in checkpoints from before mpirun support: one process).
        public var worldSize: Int?

        enum CodingKeys: String, CodingKey {
            case completedSteps, totalSteps, dataRows, loss, lossSignature, skippedSteps, best, configuration
            case worldSize = "world_size"   // the name cli.md gives it
        }
    }

    /// Writes a resumable checkpoint folder atomically: the model (a loadable sentence-transformers
    /// folder), `optimizer.safetensors` and `trainer_state.json`. `extraFiles` writes further files into
    /// the folder being saved (the model card), so they appear with the checkpoint or not at all.
    public func saveCheckpoint(to folder: URL, extraFiles: (URL) throws -> Void = { _ in }) throws {
        releaseFreedMemory()
        let state = State(completedSteps: completedSteps, totalSteps: plan.count, dataRows: data.rows.count,
                          loss: engine.loss.name, lossSignature: lossSignature, skippedSteps: skippedSteps,
                          best: best, configuration: configuration, worldSize: engine.communicator.size)
        try AtomicFolder.write(to: folder) { dir in
            try model.writeFolder(into: dir)
            try SafeTensors.write(optimizer.stateTensors(), to: dir.appendingPathComponent("optimizer.safetensors"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(state).write(to: dir.appendingPathComponent("trainer_state.json"))
            try extraFiles(dir)
        }
    }

    /// Restores optimiser moments and the step counter from a checkpoint folder whose weights the model
    /// was loaded from. The run's configuration, loss and data must match the checkpoint's.
    public func resume(from folder: URL) throws {
        let stateURL = folder.appendingPathComponent("trainer_state.json")
        guard let data = FileManager.default.contents(atPath: stateURL.path) else {
            throw EmberError("--resume \(folder.path): no trainer_state.json (not an Ember checkpoint)")
        }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: data) } catch {
            throw EmberError("\(stateURL.path): unreadable trainer state (\(error.localizedDescription))")
        }
        let ranks = engine.communicator.size, savedRanks = state.worldSize ?? 1
        guard savedRanks == ranks else {
            func count(_ n: Int) -> String { n == 1 ? "1 process" : "\(n) ranks" }
            throw EmberError("--resume \(folder.path): the checkpoint was trained on \(count(savedRanks)), this run has \(count(ranks)); resume with the same number of ranks (\(savedRanks == 1 ? "without mpirun" : "mpirun -np \(savedRanks)"))")
        }
        var saved = state.configuration, current = configuration
        saved.saveSteps = nil; current.saveSteps = nil   // checkpoint frequency does not change the maths,
        saved.skipNonFinite = false; current.skipNonFinite = false   // nor does skipping (while steps are finite)
        saved.activationMemory = nil; current.activationMemory = nil // nor what GradCache keeps
        if (saved.precision ?? .fp32) != (current.precision ?? .fp32) {
            throw EmberError("--resume \(folder.path): the checkpoint was trained with --precision \((saved.precision ?? .fp32).rawValue); resume with the same")
        }
        saved.precision = nil; current.precision = nil   // nil and .fp32 both mean fp32
        guard saved == current else {
            throw EmberError("--resume \(folder.path): the checkpoint was written with different training options; resume with the same flags")
        }
        guard state.dataRows == self.data.rows.count, state.totalSteps == plan.count else {
            throw EmberError("--resume \(folder.path): the checkpoint belongs to a different data file (\(state.dataRows) rows, \(state.totalSteps) steps; now \(self.data.rows.count) rows, \(plan.count) steps)")
        }
        guard state.loss == engine.loss.name, state.lossSignature == nil || state.lossSignature == lossSignature else {
            throw EmberError("--resume \(folder.path): the checkpoint was trained with other loss options (\(state.loss)); resume with the same loss flags")
        }
        guard state.completedSteps >= 0, state.completedSteps <= plan.count else {
            throw EmberError("\(stateURL.path): completedSteps \(state.completedSteps) is outside 0…\(plan.count)")
        }
        try optimizer.loadState(try SafeTensors.read(folder.appendingPathComponent("optimizer.safetensors")))
        completedSteps = state.completedSteps
        skippedSteps = state.skippedSteps ?? 0
        best = state.best
    }
}
