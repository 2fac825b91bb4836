import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// Resume equality at library level (spec §14): N steps uninterrupted end with exactly the weights of a run
/// stopped after k steps, checkpointed, and resumed by a NEW Trainer over a model loaded from the
/// checkpoint folder — for the features that carry state or step-keyed randomness across steps.
final class ResumeTests: XCTestCase {
    struct Run {
        var configuration: TrainingConfiguration
        var columns = 2
        var rows = 24
        var makeLoss: () throws -> EmbeddingLoss = { try MultipleNegativesRankingLoss() }
        var guided = false
    }

    /// Returns the uninterrupted run's total steps; asserts bit-identical final weights.
    @discardableResult
    func checkResume(_ run: Run, stopAfter k: Int, _ what: String) throws -> Int {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ember-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let data = TinyTexts.data(rows: run.rows, columns: run.columns)
        func guide() throws -> GuideEmbedder? { run.guided ? GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert)) : nil }
        let start = weights(try SentenceModel(folder: TrainingPaths.tinyBert))

        // Uninterrupted.
        let full = try SentenceModel(folder: TrainingPaths.tinyBert)
        let fullTrainer = try Trainer(model: full, loss: try run.makeLoss(), data: data, configuration: run.configuration, guide: try guide())
        try fullTrainer.run()
        let steps = fullTrainer.totalSteps
        XCTAssertGreaterThan(steps, k, what)

        // Killed after k steps: all that survives is the checkpoint folder (and the guide-cache file).
        let checkpoint = dir.appendingPathComponent("checkpoint-\(k)"), cacheFile = dir.appendingPathComponent("guide.cache")
        do {
            let model = try SentenceModel(folder: TrainingPaths.tinyBert)
            let firstGuide = try guide()
            let trainer = try Trainer(model: model, loss: try run.makeLoss(), data: data, configuration: run.configuration, guide: firstGuide)
            try trainer.run(stopAfter: k)
            XCTAssertEqual(trainer.completedSteps, k, what)
            try trainer.saveCheckpoint(to: checkpoint)
            try firstGuide?.save(to: cacheFile)
        }

        // A new process: model from the checkpoint, a new trainer, the guide cache from its file.
        let resumedModel = try SentenceModel(folder: checkpoint)
        let checkpointWeights = weights(resumedModel)
        let resumedGuide = try guide()
        if let resumedGuide { XCTAssertTrue(try resumedGuide.load(from: cacheFile), what) }
        let resumed = try Trainer(model: resumedModel, loss: try run.makeLoss(), data: data, configuration: run.configuration, guide: resumedGuide)
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.completedSteps, k, what)
        try resumed.run()
        XCTAssertEqual(resumed.completedSteps, steps, what)
        if let resumedGuide { XCTAssertGreaterThan(resumedGuide.hits, 0, "\(what): the loaded guide cache served the resumed run") }

        let a = weights(full), b = weights(resumedModel)
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, w) in a {
            XCTAssertTrue(w == b[name]!, "\(what): \(name) differs after resume (max |Δ| \(zip(w, b[name]!).map { abs($0 - $1) }.max() ?? 0))")
        }
        // Non-trivial: training moved the weights before and after the checkpoint.
        let probe = "encoder.layer.1.output.dense.weight"
        XCTAssertGreaterThan(relativeDifference(checkpointWeights[probe]!, start[probe]!), 1e-4, "\(what): no training before the checkpoint")
        XCTAssertGreaterThan(relativeDifference(a[probe]!, checkpointWeights[probe]!), 1e-4, "\(what): no training after the checkpoint")
        return steps
    }

    func base() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.batchSize = 6
        c.epochs = 2
        c.learningRate = 1e-2
        c.dropout = 0.1
        c.seed = 5
        return c
    }

    func testGISTWithGuideCacheResumes() throws {
        var c = base()
        c.miniBatchSize = 4
        var run = Run(configuration: c, columns: 3, rows: 18)
        run.makeLoss = { try GISTEmbedLoss(temperature: 0.05, margin: -0.02) }
        run.guided = true
        XCTAssertEqual(try checkResume(run, stopAfter: 2, "GIST + guide cache"), 6)
    }

    func testMatryoshkaDimsPerStepResumes() throws {
        var c = base()
        c.dropout = 0   // the per-step choice of dims is the only step-keyed randomness here
        c.miniBatchSize = 4
        var run = Run(configuration: c)
        let makeLoss = { try MatryoshkaLoss(wrapping: try MultipleNegativesRankingLoss(), dims: [32, 16, 8, 4],
                                            modelDimension: 32, dimsPerStep: 2, seed: 3) }
        run.makeLoss = makeLoss
        // The subset really changes from step to step; stop where it changes across the checkpoint.
        let loss = try makeLoss()
        XCTAssertGreaterThan(Set((0..<8).map { loss.selectedDims(step: $0) }).count, 2)
        let k = try XCTUnwrap((2..<7).first { loss.selectedDims(step: $0 - 1) != loss.selectedDims(step: $0) })
        XCTAssertEqual(try checkResume(run, stopAfter: k, "Matryoshka dims per step"), 8)
    }

    func testGradientAccumulationResumes() throws {
        var c = base()
        c.batchSize = 4
        c.gradientAccumulationSteps = 2
        c.miniBatchSize = 3
        // 24 rows: 6 batches = 3 optimiser steps per epoch; stop mid second epoch.
        XCTAssertEqual(try checkResume(Run(configuration: c), stopAfter: 4, "gradient accumulation"), 6)
    }

    func testTokenBudgetResumes() throws {
        var c = base()
        c.batchSize = 8
        c.miniBatchTokens = 30
        XCTAssertEqual(try checkResume(Run(configuration: c), stopAfter: 2, "mini-batch tokens"), 6)
    }
}
