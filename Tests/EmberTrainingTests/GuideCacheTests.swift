import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// The guide cache is transparent: a warm cache gives the very numbers a cold one computed, its entries
/// are the guide's own embeddings, it survives a round trip through its file, and a file from another
/// guide is refused.
final class GuideCacheTests: XCTestCase {
    func testWarmCacheChangesNothing() throws {
        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let batch = TinyTexts.batch(rows: 5, columns: 3, model: model)
        let loss = try GISTEmbedLoss(temperature: 0.05, margin: -0.02)
        func step(_ guide: GuideEmbedder) throws -> (Double, [String: [Float]]) {
            model.parameters.forEach { $0.zeroGrad() }
            let engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: .size(2),
                                             hiddenDropout: 0.1, attentionDropout: 0.1, seed: 3)
            return (try engine.step(batch, step: 0).loss, gradients(model))
        }
        let guide = GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert))
        let (coldLoss, coldGrads) = try step(guide)
        XCTAssertEqual(guide.misses, 15)
        let (warmLoss, warmGrads) = try step(guide)
        XCTAssertEqual(guide.hits, 15, "the second step is served from the cache")
        XCTAssertEqual(warmLoss, coldLoss)
        assertGradientsEqual(warmGrads, coldGrads, relative: 0, "warm vs cold guide cache")
        // A fresh guide (no shared cache) computes the same guide embeddings.
        let (freshLoss, freshGrads) = try step(GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert)))
        XCTAssertEqual(freshLoss, coldLoss)
        assertGradientsEqual(freshGrads, coldGrads, relative: 0, "fresh guide")
    }

    func testCachedEntriesAreTheGuidesEmbeddings() throws {
        let guideModel = try SentenceModel(folder: TrainingPaths.tinyBert)
        let guide = GuideEmbedder(model: guideModel, batchSize: 4)
        let texts = TinyTexts.make(9, salt: 4) + TinyTexts.make(3, salt: 4)   // with repeats
        let matrix = try guide.embed(texts)
        XCTAssertEqual(guide.cachedTexts, 9)
        for (i, text) in texts.enumerated() {
            let alone = guideModel.encode([text])
            for j in 0..<32 { XCTAssertEqual(matrix[i, j], Double(alone[j]), accuracy: 1e-6, "\(text) dim \(j)") }
        }
    }

    func testCacheFileRoundTripAndGuideCheck() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ember-guide-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("guide.cache")
        let texts = TinyTexts.make(7, salt: 2) + ["é unicode ✓"]
        let first = GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert))
        let expected = try first.embed(texts)
        try first.save(to: file)
        let second = GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert))
        XCTAssertTrue(try second.load(from: file))
        XCTAssertEqual(second.cachedTexts, texts.count)
        XCTAssertEqual(try second.embed(texts), expected)
        XCTAssertEqual(second.misses, 0)
        // A guide with different weights rejects the file.
        let other = try SentenceModel(folder: TrainingPaths.tinyBert)
        other.parameters.first { $0.name == "embeddings.LayerNorm.weight" }!.value[0] += 0.5
        let third = GuideEmbedder(model: other)
        XCTAssertFalse(try third.load(from: file))
        XCTAssertEqual(third.cachedTexts, 0)
        // A damaged file is a clear error.
        let data = try Data(contentsOf: file)
        try data.prefix(data.count - 3).write(to: file)
        XCTAssertThrowsError(try second.load(from: file)) { error in
            XCTAssertTrue("\(error)".contains("not a valid guide cache"), "\(error)")
        }
    }
}

final class GuideCacheBoundTests: XCTestCase {
    func testCapacityBoundsTheCacheAndEvictedTextsStillEmbed() throws {
        let guideModel = try SentenceModel(folder: TrainingPaths.tinyBert)
        let guide = GuideEmbedder(model: guideModel, capacity: 5)
        let texts = TinyTexts.make(12, salt: 3)
        let matrix = try guide.embed(texts)
        XCTAssertLessThanOrEqual(guide.cachedTexts, 5)
        for (i, text) in texts.enumerated() {
            let alone = guideModel.encode([text])
            for j in 0..<32 { XCTAssertEqual(matrix[i, j], Double(alone[j]), accuracy: 1e-6) }
        }
        XCTAssertGreaterThan(GuideEmbedder(model: guideModel).capacity, 1_000_000, "default ≈ 256 MB of 32-d embeddings")
    }
}
