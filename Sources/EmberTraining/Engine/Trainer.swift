import EmberCore
import EmberLosses
import EmberModel
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
    public let pairsPerSecond: Double
    public let seconds: Double

    /// The metrics JSON line (cli.md: step, epoch, loss, per-dim losses, lr, grad_norm, pairs_per_s, seconds).
    public var jsonLine: String {
        var object: [String: Any] = ["step": step, "epoch": (epoch * 1e4).rounded() / 1e4, "loss": loss,
                                     "lr": Double(learningRate), "grad_norm": Double(gradNorm),
                                     "pairs_per_s": (pairsPerSecond * 100).rounded() / 100, "seconds": (seconds * 1000).rounded() / 1000]
        if !components.isEmpty { object["losses"] = components }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
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
    /// Micro-batches (epoch, row indices) of each optimiser step.
    public let plan: [[(epoch: Int, rows: [Int])]]
    public let warmupSteps: Int
    public private(set) var completedSteps = 0
    let tokenized: [[[Int32]]]   // per data row, per column

    public var totalSteps: Int { plan.count }

    public init(model: SentenceModel, loss: EmbeddingLoss, data: TrainingData, configuration: TrainingConfiguration,
                guide: GuideEmbedder? = nil) throws {
        try configuration.validate()
        keepFreedMemoryForReuse()
        self.model = model
        self.data = data
        self.configuration = configuration
        let dropout = configuration.dropout
        engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: configuration.miniBatching,
                                     hiddenDropout: dropout ?? model.config.hiddenDropoutProb,
                                     attentionDropout: dropout ?? model.config.attentionProbsDropoutProb,
                                     seed: configuration.seed)
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
        plan = Self.makePlan(rows: data.rows, configuration: configuration)
        warmupSteps = configuration.warmupSteps ?? LearningRateSchedule.warmupSteps(ratio: 0.1, totalSteps: plan.count)
    }

    /// Groups the sampler's batches into optimiser steps: `gradientAccumulationSteps` batches each (fewer at
    /// the end of an epoch), epochs until `epochs` are done or `maxSteps` reached (cycling epochs if needed).
    static func makePlan(rows: [[String]], configuration c: TrainingConfiguration) -> [[(epoch: Int, rows: [Int])]] {
        let sampler: BatchSampling = c.noDuplicates
            ? NoDuplicatesBatchSampler(rows: rows, batchSize: c.batchSize, seed: c.seed, dropLast: c.dropLast)
            : BatchSampler(rows: rows, batchSize: c.batchSize, seed: c.seed, dropLast: c.dropLast)
        var plan: [[(epoch: Int, rows: [Int])]] = []
        var epoch = 0
        while c.maxSteps.map({ plan.count < $0 }) ?? (epoch < c.epochs) {
            let batches = sampler.batches(epoch: epoch)
            if batches.isEmpty { break }
            var start = 0
            while start < batches.count {
                if let maxSteps = c.maxSteps, plan.count >= maxSteps { break }
                let end = min(batches.count, start + c.gradientAccumulationSteps)
                plan.append(batches[start..<end].map { (epoch: epoch, rows: $0) })
                start = end
            }
            epoch += 1
        }
        return plan
    }

    /// Runs optimiser steps from `completedSteps` until done (or until `stopAfter` steps are complete),
    /// calling `onStep` after each and `checkpoint` every `saveSteps`.
    public func run(stopAfter: Int? = nil, onStep: (StepMetrics) throws -> Void = { _ in },
                    checkpoint: (Int) throws -> Void = { _ in }) throws {
        let parameters = model.parameters
        let start = Date()
        let stepsPerEpoch = Double(plan.filter { $0.first?.epoch == 0 }.count)
        // Micro-steps before each optimiser step: the dropout stream of a micro-batch is keyed by it.
        let microStepStart = plan.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        while completedSteps < plan.count {
            if let stopAfter, completedSteps >= stopAfter { return }
            let stepStart = Date()
            let micro = plan[completedSteps]
            parameters.forEach { $0.zeroGrad() }
            var loss = 0.0, components: [String: Double] = [:], pairs = 0
            let microStepBase = microStepStart[completedSteps]
            for (k, batch) in micro.enumerated() {
                let result = try engine.step(self.batch(rows: batch.rows), step: microStepBase + k,
                                             gradientScale: 1 / Float(micro.count))
                loss += result.loss / Double(micro.count)
                for (key, value) in result.components { components[key, default: 0] += value / Double(micro.count) }
                pairs += batch.rows.count
            }
            guard loss.isFinite else { throw EmberError("training diverged: loss is \(loss) at step \(completedSteps + 1)") }
            let norm = Profiler.measure("clip") { clipGradientNorm(parameters, maxNorm: configuration.maxGradNorm) }
            let lr = schedule.learningRate(step: completedSteps, totalSteps: plan.count, warmupSteps: warmupSteps,
                                           peak: configuration.learningRate)
            Profiler.measure("optimizer") { optimizer.step(parameters, learningRate: lr) }
            completedSteps += 1
            let elapsed = Date().timeIntervalSince(stepStart)
            let epochPosition = stepsPerEpoch > 0 ? Double(completedSteps) / stepsPerEpoch : Double(micro[0].epoch + 1)
            try onStep(StepMetrics(step: completedSteps, totalSteps: plan.count, epoch: epochPosition, loss: loss,
                                   components: components, learningRate: lr, gradNorm: norm,
                                   pairsPerSecond: Double(pairs) / max(elapsed, 1e-9),
                                   seconds: Date().timeIntervalSince(start)))
            if let every = configuration.saveSteps, completedSteps % every == 0, completedSteps < plan.count {
                try checkpoint(completedSteps)
            }
        }
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
        public var configuration: TrainingConfiguration
    }

    /// Writes a resumable checkpoint folder atomically: the model (a loadable sentence-transformers
    /// folder), `optimizer.safetensors` and `trainer_state.json`.
    public func saveCheckpoint(to folder: URL) throws {
        let state = State(completedSteps: completedSteps, totalSteps: plan.count, dataRows: data.rows.count,
                          loss: engine.loss.name, configuration: configuration)
        try AtomicFolder.write(to: folder) { dir in
            try model.writeFolder(into: dir)
            try SafeTensors.write(optimizer.stateTensors(), to: dir.appendingPathComponent("optimizer.safetensors"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(state).write(to: dir.appendingPathComponent("trainer_state.json"))
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
        var saved = state.configuration, current = configuration
        saved.saveSteps = nil; current.saveSteps = nil   // checkpoint frequency does not change the maths
        guard saved == current else {
            throw EmberError("--resume \(folder.path): the checkpoint was written with different training options; resume with the same flags")
        }
        guard state.dataRows == self.data.rows.count, state.totalSteps == plan.count, state.loss == engine.loss.name else {
            throw EmberError("--resume \(folder.path): the checkpoint belongs to a different data file or loss")
        }
        try optimizer.loadState(try SafeTensors.read(folder.appendingPathComponent("optimizer.safetensors")))
        completedSteps = state.completedSteps
    }
}
