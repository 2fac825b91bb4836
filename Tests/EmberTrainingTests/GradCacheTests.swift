import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// P1/P2/P6 of spec §14: GradCache changes memory, not mathematics — for every loss, with dropout ON,
/// for mini-batch sizes that do not divide the batch or exceed it and for token budgets, the loss and
/// every parameter gradient equal plain training's.
final class GradCacheTests: XCTestCase {
    func run(_ model: SentenceModel, _ loss: EmbeddingLoss, _ batch: TokenizedBatch, _ miniBatching: MiniBatching,
             guide: GuideEmbedder? = nil, gradientScale: Float = 1) throws -> (Double, [String: [Float]]) {
        model.parameters.forEach { $0.zeroGrad() }
        let engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: miniBatching,
                                         hiddenDropout: 0.1, attentionDropout: 0.1, seed: 7)
        let result = try engine.step(batch, step: 3, gradientScale: gradientScale)
        return (result.loss, gradients(model))
    }

    func checkCachedEqualsUncached(_ loss: EmbeddingLoss, columns: Int, rows: Int = 5, guide: Bool = false) throws {
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let guideEmbedder = guide ? GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert)) : nil
        let batch = TinyTexts.batch(rows: rows, columns: columns, model: model)
        let (plainLoss, plainGrads) = try run(model, loss, batch, .none, guide: guideEmbedder)
        for miniBatching in [MiniBatching.size(2), .size(3), .size(rows + 2), .size(1)] {
            let (cachedLoss, cachedGrads) = try run(model, loss, batch, miniBatching, guide: guideEmbedder)
            XCTAssertEqual(cachedLoss, plainLoss, accuracy: 1e-6 * max(1, abs(plainLoss)), "\(loss.name) \(miniBatching)")
            assertGradientsEqual(cachedGrads, plainGrads, relative: 1e-5, "\(loss.name) \(columns) columns \(miniBatching)")
        }
        try checkTokenBudgets(loss, columns: columns, model: model, guide: guideEmbedder)
    }

    /// Token budgets on a batch large enough that (a) each budget packs several sequences per mini-batch —
    /// asserted, so the case cannot silently degenerate to one sequence per mini-batch — and (b) the loss
    /// stage runs in more than one anchor chunk (token budgets chunk the loss by `lossChunkRows` rows).
    func checkTokenBudgets(_ loss: EmbeddingLoss, columns: Int, model: SentenceModel, guide: GuideEmbedder?) throws {
        let rows = 40
        let batch = TinyTexts.batch(rows: rows, columns: columns, model: model)
        let unk = Int32(model.tokenizer.unkId)
        XCTAssertFalse(batch.columns.joined().contains { $0.contains(unk) }, "fixture texts must be real tiny-bert words")
        let (plainLoss, plainGrads) = try run(model, loss, batch, .none, guide: guide)
        for budget in [40, 64] {
            let miniBatching = MiniBatching.tokens(budget)
            let counts = batch.columns.map { miniBatching.ranges(lengths: $0.map(\.count)).count }
            for count in counts { XCTAssertTrue(count > 1 && count < rows / 2, "budget \(budget): \(count) mini-batches for \(rows) rows") }
            XCTAssertLessThan(miniBatching.lossChunkRows!, rows, "the loss stage must be cut into chunks")
            let (cachedLoss, cachedGrads) = try run(model, loss, batch, miniBatching, guide: guide)
            XCTAssertEqual(cachedLoss, plainLoss, accuracy: 1e-6 * max(1, abs(plainLoss)), "\(loss.name) \(miniBatching)")
            assertGradientsEqual(cachedGrads, plainGrads, relative: 1e-5, "\(loss.name) \(columns) columns \(miniBatching)")
        }
    }

    func testMNRLPairsTripletsAndFourColumns() throws {
        for columns in [2, 3, 4] { try checkCachedEqualsUncached(try MultipleNegativesRankingLoss(), columns: columns) }
    }

    func testSymmetricAndGTE() throws {
        try checkCachedEqualsUncached(try MultipleNegativesRankingLoss.symmetric(), columns: 2)
        try checkCachedEqualsUncached(try MultipleNegativesRankingLoss.gte(), columns: 3)
        try checkCachedEqualsUncached(try MultipleNegativesRankingLoss(hardnessMode: .inBatchNegatives, hardnessStrength: 9), columns: 3)
    }

    func testGIST() throws {
        // The random tiny guide rates most candidates close to the positive; a negative margin keeps
        // some unmasked so the gradient is not trivially zero.
        try checkCachedEqualsUncached(try GISTEmbedLoss(temperature: 0.05, margin: -0.02), columns: 3, guide: true)
        try checkCachedEqualsUncached(try GISTEmbedLoss(), columns: 2, guide: true)
    }

    func testMatryoshkaOverEveryLoss() throws {
        let dims = [32, 16, 8]
        try checkCachedEqualsUncached(try MatryoshkaLoss(wrapping: try MultipleNegativesRankingLoss(), dims: dims, modelDimension: 32), columns: 3)
        try checkCachedEqualsUncached(try MatryoshkaLoss(wrapping: try MultipleNegativesRankingLoss.symmetric(), dims: dims, modelDimension: 32), columns: 2)
        try checkCachedEqualsUncached(try MatryoshkaLoss(wrapping: try GISTEmbedLoss(), dims: dims, weights: [1, 0.5, 0.25], modelDimension: 32),
                                      columns: 3, guide: true)
    }

    func testStageThreeReplaysStageOneBitForBit() throws {
        // With dropout on, a mini-batch re-embedded with activations equals its stage-1 embedding exactly.
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let batch = TinyTexts.batch(rows: 6, columns: 2, model: model)
        let engine = try GradCacheEngine(model: model, loss: try MultipleNegativesRankingLoss(), miniBatching: .size(4),
                                         hiddenDropout: 0.3, attentionDropout: 0.3, seed: 1)
        let ranges = batch.columns.map { engine.miniBatching.ranges(lengths: $0.map(\.count)) }
        let cached = engine.embedColumns(batch, ranges: ranges, step: 0)
        let noDropout = try GradCacheEngine(model: model, loss: try MultipleNegativesRankingLoss(), miniBatching: .size(4),
                                            hiddenDropout: 0, attentionDropout: 0, seed: 1).embedColumns(batch, ranges: ranges, step: 0)
        XCTAssertNotEqual(cached[0].values, noDropout[0].values, "dropout must be active")
        for c in 0..<2 {
            for range in ranges[c] {
                let keys = range.map { DropoutStreams.sequenceKey(seed: 1, step: 0, column: c, row: $0) }
                let (replayed, tape) = model.embedForTraining(Array(batch.columns[c][range]),
                                                              dropout: EncoderDropout(hiddenProbability: 0.3, attentionProbability: 0.3, sequenceKeys: keys),
                                                              keepActivations: true)
                XCTAssertNotNil(tape)
                for i in 0..<(range.count * 32) {
                    XCTAssertEqual(Double(replayed[i]), cached[c].values[range.lowerBound * 32 + i])
                }
            }
        }
    }

    func testGradientScaleDividesGradients() throws {
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let batch = TinyTexts.batch(rows: 5, columns: 3, model: model)
        let loss = try MultipleNegativesRankingLoss()
        let (_, full) = try run(model, loss, batch, .size(2))
        for k: Float in [2, 4] {
            let (_, scaled) = try run(model, loss, batch, .size(2), gradientScale: 1 / k)
            assertGradientsEqual(scaled, full.mapValues { $0.map { $0 / k } }, relative: 1e-6, "scale 1/\(k)")
        }
    }

    func testDifferentDataGivesDifferentGradients() throws {
        // Negative control: the comparisons above can fail.
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let loss = try MultipleNegativesRankingLoss()
        let (_, a) = try run(model, loss, TinyTexts.batch(rows: 5, columns: 2, model: model), .size(2))
        let other = TinyTexts.batch(rows: 6, columns: 2, model: model)
        let (_, b) = try run(model, loss, other, .size(2))
        let name = "encoder.layer.0.attention.self.query.weight"
        let diff = zip(a[name]!, b[name]!).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(diff, 1e-6)
    }

    func testMiniBatchRanges() {
        XCTAssertEqual(MiniBatching.size(3).ranges(lengths: [1, 1, 1, 1, 1, 1, 1]), [0..<3, 3..<6, 6..<7])
        XCTAssertEqual(MiniBatching.size(50).ranges(lengths: [1, 1]), [0..<2])
        XCTAssertEqual(MiniBatching.tokens(10).ranges(lengths: [4, 5, 2, 12, 3, 3]), [0..<2, 2..<3, 3..<4, 4..<6])
        XCTAssertEqual(MiniBatching.none.ranges(lengths: [4, 5]), [0..<2])
    }
}
