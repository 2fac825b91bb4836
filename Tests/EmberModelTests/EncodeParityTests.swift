import EmberCore
import EmberModel
import Foundation
import XCTest

/// Ember's tokenizer + encoder + pooling + Normalize against sentence-transformers' own outputs.
final class EncodeParityTests: XCTestCase {
    func check(model: SentenceModel, fixture: EncodeFixture, minimumCosine: Double, batchSize: Int) {
        let tokenized = fixture.texts.map(model.tokenize)
        for (i, ids) in tokenized.enumerated() {
            XCTAssertEqual(ids, fixture.token_ids[i], "token ids of text \(i) \(fixture.texts[i].debugDescription)")
        }
        let embeddings = model.encode(fixture.texts, batchSize: batchSize)
        let D = model.embeddingDimension
        var worst = 1.0
        for (i, expected) in fixture.embeddings.enumerated() {
            XCTAssertEqual(expected.count, D)
            let c = cosine(embeddings.pointer + i * D, expected)
            worst = min(worst, c)
            XCTAssertGreaterThanOrEqual(c, minimumCosine, "text \(i) \(fixture.texts[i].debugDescription)")
            // Normalize is listed, so the outputs are unit vectors like the reference's.
            let norm = (0..<D).reduce(0.0) { $0 + Double(embeddings[i * D + $1] * embeddings[i * D + $1]) }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        print("encode parity: \(fixture.texts.count) texts, worst cosine \(worst)")
    }

    func testTinyBertMatchesSentenceTransformers() throws {
        let model = try SentenceModel(folder: Paths.tinyBert)
        XCTAssertTrue(model.normalize, "modules.json lists 2_Normalize although the folder is absent")
        XCTAssertEqual(model.maxSequenceLength, 16)
        check(model: model, fixture: try EncodeFixture.load("tiny_encode.json"), minimumCosine: 0.99999, batchSize: 3)
    }

    func testTinyBertPoolingModes() throws {
        let model = try SentenceModel(folder: Paths.tinyBert)
        let fixture = try EncodeFixture.load("tiny_encode.json")
        let tokenized = fixture.texts.map(model.tokenize)
        let acts = model.encoder.forward(tokenized)
        let H = model.config.hiddenSize
        for (mode, expected, normalize) in [(Pooling.Mode.cls, fixture.cls_embeddings!, true),
                                            (.max, fixture.max_embeddings!, true),
                                            (.mean, fixture.mean_unnormalized!, false)] {
            let out = FloatBuffer(count: tokenized.count * H)
            Pooling(modes: [mode], dimension: H).forward(acts.lastHiddenState, sequences: acts.sequences, out.pointer)
            if normalize { Normalize.forward(out.pointer, rows: tokenized.count, dim: H) }
            for (i, row) in expected.enumerated() {
                for j in 0..<H {
                    XCTAssertEqual(Double(out[i * H + j]), row[j], accuracy: 2e-5, "\(mode) text \(i) dim \(j)")
                }
            }
        }
    }

    func testMiniLMMatchesSentenceTransformers() throws {
        let model = try SentenceModel(folder: try Paths.miniLM())
        XCTAssertEqual(model.maxSequenceLength, 256)
        XCTAssertEqual(model.embeddingDimension, 384)
        check(model: model, fixture: try EncodeFixture.load("minilm_encode.json"), minimumCosine: 0.99999, batchSize: 8)
    }

    func testBatchCompositionDoesNotChangeEmbeddings() throws {
        // Packed sequences never see each other: one text alone or in a batch embeds identically.
        let model = try SentenceModel(folder: Paths.tinyBert)
        let texts = ["the cat sat", "a dog ran fast over the hill and far away", "hello"]
        let together = model.encode(texts, batchSize: 3)
        for (i, text) in texts.enumerated() {
            let alone = model.encode([text], batchSize: 1)
            for j in 0..<model.embeddingDimension {
                XCTAssertEqual(alone[j], together[i * model.embeddingDimension + j], accuracy: 1e-6)
            }
        }
    }
}
