import EmberCore
import EmberLosses
import EmberModel
@testable import EmberTraining
import Foundation
import XCTest

/// Gradient accumulation (spec §14): one optimiser step over k batches uses the mean of the k batches'
/// gradients — each computed as if alone, with its own micro-step's dropout masks — with or without
/// GradCache, batches of unequal size included; and the optimiser applies exactly that mean.
final class AccumulationTests: XCTestCase {
    func checkAccumulatedStep(miniBatchSize: Int?, miniBatchTokens: Int? = nil) throws {
        // 13 rows in batches of 5: one optimiser step of 3 micro-batches sized 5, 5 and 3.
        let data = TinyTexts.data(rows: 13, columns: 3)
        var configuration = TrainingConfiguration()
        configuration.batchSize = 5
        configuration.gradientAccumulationSteps = 3
        configuration.miniBatchSize = miniBatchSize
        configuration.miniBatchTokens = miniBatchTokens
        configuration.dropout = 0.1
        configuration.seed = 9
        configuration.optimizer = .sgd
        configuration.weightDecay = 0
        configuration.maxGradNorm = 0          // no clipping: the step applies the raw accumulated gradient
        configuration.scheduler = "constant"
        configuration.warmupSteps = 0
        configuration.learningRate = 0.5
        let loss = try MultipleNegativesRankingLoss()
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let trainer = try Trainer(model: model, loss: loss, data: data, configuration: configuration)
        XCTAssertEqual(trainer.plan.count, 1)
        let micro = trainer.plan[0]
        XCTAssertEqual(micro.map(\.rows.count), [5, 5, 3])

        // Each batch's gradient on its own, from an independent copy of the starting weights, plain
        // (no GradCache), dropout keyed by its micro-step (0, 1, 2).
        let reference = try SentenceModel(folder: TrainingPaths.tinyBert)
        let engine = try GradCacheEngine(model: reference, loss: loss, miniBatching: .none,
                                         hiddenDropout: 0.1, attentionDropout: 0.1, seed: 9)
        var perBatch: [[String: [Float]]] = []
        for (k, batch) in micro.enumerated() {
            reference.parameters.forEach { $0.zeroGrad() }
            _ = try engine.step(trainer.batch(rows: batch.rows), step: k)
            perBatch.append(gradients(reference))
        }
        var expected: [String: [Float]] = [:]
        for name in perBatch[0].keys {
            let count = perBatch[0][name]!.count
            expected[name] = (0..<count).map { i in Float(perBatch.reduce(0.0) { $0 + Double($1[name]![i]) } / Double(perBatch.count)) }
        }
        // The batches' gradients really differ, so a sum, a single batch or the wrong divisor would show.
        let q = "encoder.layer.0.attention.self.query.weight"
        XCTAssertGreaterThan(relativeDifference(perBatch[0][q]!, perBatch[1][q]!), 0.2)
        XCTAssertGreaterThan(relativeDifference(perBatch[1][q]!, perBatch[2][q]!), 0.2)

        let before = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value.array) })
        var accumulated: [String: [Float]] = [:]
        try trainer.run(onStep: { _ in accumulated = gradients(model) })
        let what = "accumulated step, mini-batch \(miniBatchSize.map(String.init) ?? "none") tokens \(miniBatchTokens.map(String.init) ?? "none")"
        assertGradientsEqual(accumulated, expected, relative: 1e-5, what)
        // SGD without decay or clipping: w₁ = w₀ − lr · mean gradient.
        for parameter in model.parameters {
            let w0 = before[parameter.name]!, w1 = parameter.value.array, g = expected[parameter.name]!
            let update = zip(w0, w1).map { Double($0 - $1) / 0.5 }
            XCTAssertLessThanOrEqual(relativeDifference(update, g.map(Double.init), floor: 1e-6), 1e-3, "\(what): update of \(parameter.name)")
        }
    }

    func testAccumulatedStepIsTheMeanOfItsBatchesPlain() throws { try checkAccumulatedStep(miniBatchSize: nil) }
    func testAccumulatedStepIsTheMeanOfItsBatchesWithGradCache() throws { try checkAccumulatedStep(miniBatchSize: 2) }
    func testAccumulatedStepIsTheMeanOfItsBatchesWithTokenBudget() throws { try checkAccumulatedStep(miniBatchSize: nil, miniBatchTokens: 24) }
}
