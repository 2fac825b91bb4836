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

    public init() {}

    public var miniBatching: MiniBatching {
        if let tokens = miniBatchTokens { return .tokens(tokens) }
        if let size = miniBatchSize { return .size(size) }
        return .none
    }

    /// One-line errors naming the flag.
    public func validate() throws {
        func check(_ condition: Bool, _ message: String) throws { if !condition { throw EmberError(message) } }
        try check(batchSize >= 1, "--batch-size must be at least 1, got \(batchSize)")
        try check(epochs >= 1, "--epochs must be at least 1, got \(epochs)")
        if let maxSteps { try check(maxSteps >= 1, "--max-steps must be at least 1, got \(maxSteps)") }
        try check(learningRate >= 0 && learningRate.isFinite, "--lr must be a non-negative number, got \(learningRate)")
        try check(weightDecay >= 0, "--weight-decay must be non-negative, got \(weightDecay)")
        try check(["linear", "constant", "cosine"].contains(scheduler), "--scheduler must be linear, constant or cosine, got '\(scheduler)'")
        if let warmupSteps { try check(warmupSteps >= 0, "--warmup-steps must be non-negative, got \(warmupSteps)") }
        try check(maxGradNorm >= 0, "--max-grad-norm must be non-negative (0 disables), got \(maxGradNorm)")
        if let dropout { try check(dropout >= 0 && dropout < 1, "--dropout must be in [0, 1), got \(dropout)") }
        if let saveSteps { try check(saveSteps >= 1, "--save-steps must be at least 1, got \(saveSteps)") }
        try check(gradientAccumulationSteps >= 1, "--gradient-accumulation-steps must be at least 1, got \(gradientAccumulationSteps)")
        if let m = miniBatchSize { try check(m >= 1, "--mini-batch-size must be at least 1, got \(m)") }
        if let t = miniBatchTokens { try check(t >= 1, "--mini-batch-tokens must be at least 1, got \(t)") }
        try check(!(miniBatchSize != nil && miniBatchTokens != nil), "--mini-batch-size and --mini-batch-tokens are exclusive")
    }
}
