import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// GradCache's activation budget (#10): stage 1 keeps the activations of the mini-batches that fit and
/// stage 3 back-propagates those without re-running their forward. Keeping and replaying must give
/// identical parameter gradients — bit for bit, with dropout on — and the worker scheme (one mini-batch
/// per core, gradients summed in worker order) must agree with one worker.
class ActivationBudgetTests: XCTestCase {
    func step(_ model: SentenceModel, _ loss: EmbeddingLoss, _ batch: TokenizedBatch, _ miniBatching: MiniBatching,
              budget: Int, workers: Int, guide: GuideEmbedder? = nil) throws -> (Double, [String: [Float]], kept: Int, replayed: Int) {
        model.parameters.forEach { $0.zeroGrad() }
        let engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: miniBatching,
                                         hiddenDropout: 0.2, attentionDropout: 0.2, seed: 11)
        engine.activationBudget = budget
        engine.workers = workers
        let result = try engine.step(batch, step: 2)
        return (result.loss, gradients(model), engine.lastStepKept, engine.lastStepReplayed)
    }

    /// The bytes of the first `n` jobs' activations: a budget that keeps exactly those.
    func budget(keeping n: Int, _ engine: GradCacheEngine, _ batch: TokenizedBatch) -> Int {
        engine.jobs(batch).prefix(n).reduce(0) { sum, job in
            sum + BertActivations.keptBytes(config: engine.model.config, lengths: batch.columns[job.column][job.range].map(\.count))
        }
    }

    func checkKeptEqualsReplayed(_ loss: EmbeddingLoss, columns: Int, guide: Bool = false) throws {
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let guideEmbedder = guide ? GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert)) : nil
        let batch = TinyTexts.batch(rows: 7, columns: columns, model: model)
        let miniBatching = MiniBatching.size(3)   // 3 mini-batches per column, the last one short
        let probe = try GradCacheEngine(model: model, loss: loss, guide: guideEmbedder, miniBatching: miniBatching,
                                        hiddenDropout: 0.2, attentionDropout: 0.2, seed: 11)
        let jobs = probe.jobs(batch).count
        XCTAssertEqual(jobs, 3 * columns)
        for workers in [1, 2] {
            let (replayLoss, replayed, kept0, replayed0) = try step(model, loss, batch, miniBatching, budget: 0, workers: workers, guide: guideEmbedder)
            XCTAssertEqual([kept0, replayed0], [0, jobs])
            for keep in [1, jobs / 2, jobs] {
                let bytes = keep == jobs ? Int.max : budget(keeping: keep, probe, batch)
                let (keptLoss, kept, k, r) = try step(model, loss, batch, miniBatching, budget: bytes, workers: workers, guide: guideEmbedder)
                XCTAssertEqual([k, r], [keep, jobs - keep], "the budget must keep exactly the first \(keep) mini-batches")
                XCTAssertEqual(keptLoss, replayLoss, "\(loss.name) keep \(keep) workers \(workers)")
                XCTAssertEqual(kept.keys.sorted(), replayed.keys.sorted())
                for (name, g) in replayed {
                    XCTAssertTrue(kept[name]! == g, "\(loss.name): \(name) differs with \(keep) of \(jobs) mini-batches kept, \(workers) workers")
                }
            }
        }
        // One worker and two sum the same terms in another order: equal to rounding, not bit for bit.
        let (_, one, _, _) = try step(model, loss, batch, miniBatching, budget: 0, workers: 1, guide: guideEmbedder)
        let (_, two, _, _) = try step(model, loss, batch, miniBatching, budget: Int.max, workers: 2, guide: guideEmbedder)
        assertGradientsEqual(two, one, relative: 1e-5, "\(loss.name): 2 workers vs 1")
    }

    func testMNRLWithHardNegatives() throws {
        try checkKeptEqualsReplayed(try MultipleNegativesRankingLoss(), columns: 3)
    }

    func testMatryoshkaOverGIST() throws {
        let gist = try GISTEmbedLoss(temperature: 0.05, margin: -0.02)
        try checkKeptEqualsReplayed(try MatryoshkaLoss(wrapping: gist, dims: [32, 16, 8], modelDimension: 32), columns: 3, guide: true)
    }

    func testPlainTrainingOnTwoWorkersEqualsOne() throws {
        // Plain training cuts each column across the workers; the gradients equal one worker's to rounding.
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let batch = TinyTexts.batch(rows: 9, columns: 2, model: model)
        let loss = try MultipleNegativesRankingLoss()
        let (l1, g1, _, _) = try step(model, loss, batch, .none, budget: 0, workers: 1)
        let (l2, g2, kept, replayed) = try step(model, loss, batch, .none, budget: 0, workers: 2)
        XCTAssertEqual([kept, replayed], [4, 0], "plain training keeps every slice whatever the budget")
        XCTAssertEqual(l2, l1, accuracy: 1e-6 * max(1, abs(l1)))
        assertGradientsEqual(g2, g1, relative: 1e-5, "plain, 2 workers vs 1")
    }

    func testBudgetCountsTheBuffersAForwardKeeps() {
        // 2 sequences of 3 and 5 tokens through a 6-layer, H = 384, I = 1536, 12-head encoder.
        var config = try! SentenceModel(folder: TrainingPaths.tinyBert).config
        config.numHiddenLayers = 6; config.hiddenSize = 384; config.intermediateSize = 1536; config.numAttentionHeads = 12
        let perLayer = 8 * (8 * 384 + 2 * 1536 + 4) + 12 * (9 + 25)
        XCTAssertEqual(BertActivations.keptBytes(config: config, lengths: [3, 5]), 4 * (6 * perLayer + 8 * (2 * 384 + 2)))
    }
}
