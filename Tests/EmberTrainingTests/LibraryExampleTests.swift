import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// The README's library example, run on the tiny model: Matryoshka wrapping GIST, cached by the trainer.
final class LibraryExampleTests: XCTestCase {
    func testReadmeCompositionTrainsAndSaves() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ember-lib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let dataURL = dir.appendingPathComponent("pairs.tsv")
        let anchors = TinyTexts.make(12, salt: 1), positives = TinyTexts.make(12, salt: 2)
        try (["anchor\tpositive"] + zip(anchors, positives).map { "\($0)\t\($1)" }).joined(separator: "\n").write(to: dataURL, atomically: true, encoding: .utf8)
        let outputURL = dir.appendingPathComponent("out")

        let model = try SentenceModel(folder: TrainingPaths.tinyBert)
        let guide = GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert))
        let loss = try MatryoshkaLoss(wrapping: try GISTEmbedLoss(temperature: 0.01, marginStrategy: .relative, margin: 0.05),
                                      dims: [32, 16, 8], modelDimension: model.embeddingDimension)
        var options = TrainingConfiguration()
        options.batchSize = 12
        options.miniBatchSize = 5
        options.maxSteps = 2
        // The loss of the whole data set as one batch (dropout off) and its gradient, before training.
        let probe = TinyTexts.batch(rows: 12, columns: 2, model: model)
        func probeLoss() throws -> (Double, [String: [Float]]) {
            model.parameters.forEach { $0.zeroGrad() }
            let engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: .none,
                                             hiddenDropout: 0, attentionDropout: 0, seed: 0)
            return (try engine.step(probe, step: 0).loss, gradients(model))
        }
        let (lossBefore, gradientBefore) = try probeLoss()
        let start = weights(model)
        let trainer = try Trainer(model: model, loss: loss, data: try TrainingData.load(dataURL),
                                  configuration: options, guide: guide)
        var lines: [String] = []
        try trainer.run(onStep: { metrics in lines.append(metrics.jsonLine) })
        try model.save(to: outputURL)

        XCTAssertEqual(lines.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(Set((first["losses"] as! [String: Double]).keys), ["32", "16", "8"], "per-dimension losses are logged")
        // Training moved every trained tensor by a non-trivial amount, downhill: the update has a negative
        // inner product with the starting gradient, and the data set's loss went down.
        let trained = weights(model)
        var inner = 0.0
        for (name, w0) in start {
            let w1 = trained[name]!, g = gradientBefore[name]!
            if !name.hasSuffix("attention.self.key.bias") {   // its true gradient is 0: Adam's update is noise
                XCTAssertGreaterThan(relativeDifference(w1, w0), 1e-5, "\(name) did not change")
            }
            for i in 0..<w0.count { inner += Double(g[i]) * Double(w1[i] - w0[i]) }
        }
        XCTAssertLessThan(inner, 0, "the update must point downhill")
        let (lossAfter, _) = try probeLoss()
        XCTAssertLessThan(lossAfter, lossBefore - 1e-5, "training lowered the loss")
        let reloaded = try SentenceModel(folder: outputURL)
        XCTAssertEqual(reloaded.encode(["the cat"]).array, model.encode(["the cat"]).array)
    }
}
