import EmberCore
import EmberLosses
import EmberModel
import EmberTestSupport
import EmberTraining
import Foundation
import XCTest

/// `ember train --precision bf16` (#10): the linear layers' forward, dx and dW products in bf16 (fp32
/// accumulation, fp32 master weights, gradients and optimiser). Every `ActivationBudgetTests` case runs
/// again here with bf16 products: keeping a mini-batch's activations and replaying its forward must still
/// give bit-identical gradients (the replay runs the same oneDNN products on the same rows), and two
/// workers must agree with one. Under CI a missing oneDNN fails rather than skips.
final class ActivationBudgetBF16Tests: ActivationBudgetTests {
    override func setUpWithError() throws {
        guard BF16Machine.shouldTest else { throw XCTSkip("--precision bf16 needs oneDNN and AVX512_BF16") }
        try Precision.use(.bf16)
    }

    override func tearDown() { try? Precision.use(.fp32) }

    /// One MNRL step on all-MiniLM-L6-v2 (dropout off): every parameter gradient within 3% (relative
    /// norm) of fp32's, and not equal to it, so the bf16 products provably ran.
    func testMiniLMGradientsStayCloseToFP32() throws {
        let model = try SentenceModel(folder: try TrainingPaths.miniLM())
        let batch = TinyTexts.batch(rows: 12, columns: 3, model: model)
        let loss = try MultipleNegativesRankingLoss()
        func step() throws -> (Double, [String: [Float]]) {
            model.parameters.forEach { $0.zeroGrad() }
            let engine = try GradCacheEngine(model: model, loss: loss, guide: nil, miniBatching: .size(4),
                                             hiddenDropout: 0, attentionDropout: 0, seed: 3)
            let result = try engine.step(batch, step: 0)
            return (result.loss, gradients(model))
        }
        let (halfLoss, half) = try step()
        try Precision.use(.fp32)
        let (fullLoss, full) = try step()
        XCTAssertEqual(halfLoss, fullLoss, accuracy: 0.01 * abs(fullLoss))
        assertGradientsEqual(half, full, relative: 0.03, "bf16 vs fp32")
        XCTAssertTrue(half.contains { $0.value != full[$0.key]! }, "bf16 gradients identical to fp32: the bf16 path did not run")
    }
}
