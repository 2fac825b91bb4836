import EmberCore
import Foundation

/// Everything that shapes a training run (the `ember train` flags; defaults per ../shared/spec/cli.md).
public struct TrainingConfiguration: Codable, Equatable {
    public enum OptimizerKind: String, Codable, CaseIterable { case adamw, sgd }

    public var batchSize = 32
    public var epochs = 1
    public var maxSteps: Int? = nil
    public var optimizer = OptimizerKind.adamw
    public var learningRate: Float = 2e-5
    public var weightDecay: Float = 0.01
    public var scheduler = "linear"
    /// nil: 10% of the optimiser steps (rounded up).
    public var warmupSteps: Int? = nil
    public var maxGradNorm: Float = 1
    /// nil: config.json's hidden and attention dropout.
    public var dropout: Float? = nil
    public var seed: UInt64 = 42
    public var saveSteps: Int? = nil
    public var gradientAccumulationSteps = 1
    public var miniBatchSize: Int? = nil
    public var miniBatchTokens: Int? = nil
    /// The no-duplicates batch sampler (spec §10.1); on by default for in-batch-negative losses.
    public var noDuplicates = true
    public var dropLast = false
    /// Skip an optimiser step whose loss or gradient norm is not finite (counted in the metrics) instead
    /// of stopping. Not stored in checkpoints: it changes nothing while every step is finite.
    public var skipNonFinite = false
    /// GradCache: bytes of mini-batch activations kept from stage 1 for stage 3 (`--activation-memory`);
    /// nil = `GradCacheEngine.defaultActivationBudget`. Not stored in checkpoints: keeping or replaying a
    /// mini-batch gives the same gradients bit for bit, so it changes memory and speed, never the weights.
    public var activationMemory: Int? = nil
    /// `--precision bf16`: the linear layers' products in bf16 (`Precision`), for the trained model and
    /// the guide. nil = fp32, which is also what a checkpoint written before the option means. Stored:
    /// it changes the weights, so a resume must use the same.
    public var precision: Precision? = nil

    enum CodingKeys: String, CodingKey {
        case batchSize, epochs, maxSteps, optimizer, learningRate, weightDecay, scheduler, warmupSteps, maxGradNorm
        case dropout, seed, saveSteps, gradientAccumulationSteps, miniBatchSize, miniBatchTokens, noDuplicates, dropLast
        case precision
    }

    /// Upper bounds of the counts, checked before anything is allocated: far beyond any real run, low
    /// enough that no product of them overflows or asks for terabytes.
    public static let maximumBatchSize = 1 << 20
    public static let maximumSteps = 1_000_000_000
    public static let maximumEpochs = 100_000

    public init() {}

    public var miniBatching: MiniBatching {
        if let tokens = miniBatchTokens { return .tokens(tokens) }
        if let size = miniBatchSize { return .size(size) }
        return .none
    }

    /// One-line errors naming the flag.
    public func validate() throws {
        func check(_ condition: Bool, _ message: String) throws { if !condition { throw EmberError(message) } }
        try check((1...Self.maximumBatchSize).contains(batchSize), "--batch-size must be between 1 and \(Self.maximumBatchSize), got \(batchSize)")
        try check((1...Self.maximumEpochs).contains(epochs), "--epochs must be between 1 and \(Self.maximumEpochs), got \(epochs)")
        if let maxSteps { try check((1...Self.maximumSteps).contains(maxSteps), "--max-steps must be between 1 and \(Self.maximumSteps), got \(maxSteps)") }
        try check(learningRate >= 0 && learningRate.isFinite, "--lr must be a non-negative number, got \(learningRate)")
        try check(weightDecay >= 0 && weightDecay.isFinite, "--weight-decay must be a non-negative number, got \(weightDecay)")
        try check(["linear", "constant", "cosine"].contains(scheduler), "--scheduler must be linear, constant or cosine, got '\(scheduler)'")
        if let warmupSteps { try check((0...Self.maximumSteps).contains(warmupSteps), "--warmup-steps must be between 0 and \(Self.maximumSteps), got \(warmupSteps)") }
        try check(maxGradNorm >= 0 && maxGradNorm.isFinite, "--max-grad-norm must be a non-negative number (0 disables), got \(maxGradNorm)")
        if let dropout { try check(dropout >= 0 && dropout < 1, "--dropout must be in [0, 1), got \(dropout)") }
        if let saveSteps { try check((1...Self.maximumSteps).contains(saveSteps), "--save-steps must be between 1 and \(Self.maximumSteps), got \(saveSteps)") }
        try check((1...Self.maximumSteps).contains(gradientAccumulationSteps), "--gradient-accumulation-steps must be between 1 and \(Self.maximumSteps), got \(gradientAccumulationSteps)")
        if let m = miniBatchSize { try check((1...Self.maximumBatchSize).contains(m), "--mini-batch-size must be between 1 and \(Self.maximumBatchSize), got \(m)") }
        if let t = miniBatchTokens { try check((1...Self.maximumBatchSize * 512).contains(t), "--mini-batch-tokens must be between 1 and \(Self.maximumBatchSize * 512), got \(t)") }
        try check(!(miniBatchSize != nil && miniBatchTokens != nil), "--mini-batch-size and --mini-batch-tokens are exclusive")
    }
}
