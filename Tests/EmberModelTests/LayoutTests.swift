import EmberCore
import EmberModel
import Foundation
import XCTest

/// Folders saved by sentence-transformers 6.2 itself (v5.4+ spellings: new module type paths,
/// `pooling_mode`/`embedding_dimension`, max_seq_length as the tokenizer's model_max_length, tokenizer.json
/// without vocab.txt) and in the v2–v5.3 spelling, written by parity/make_layout_fixtures.py: Ember loads
/// each, tokenizes as the reference did and reproduces its embeddings, and its own save of each loads back
/// to the same embeddings.
final class LayoutTests: XCTestCase {
    struct Expected: Decodable {
        struct Folder: Decodable {
            let folder: String
            let pooling_mode: String
            let embedding_dimension: Int
            let normalize: Bool
            let max_seq_length: Int
            let token_ids: [[Int32]]
            let embeddings: [[Double]]
        }
        let texts: [String]
        let folders: [Folder]
    }

    func testEveryLayoutLoadsAndEncodesAsTheReference() throws {
        let root = Paths.fixtures.appendingPathComponent("layouts")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: root.appendingPathComponent("expected.json")))
        XCTAssertGreaterThanOrEqual(expected.folders.count, 7)
        let modes: [String: Pooling.Mode] = ["mean": .mean, "cls": .cls, "weightedmean": .weightedMean, "lasttoken": .lastToken]
        for f in expected.folders {
            let model = try SentenceModel(folder: root.appendingPathComponent(f.folder))
            XCTAssertEqual(model.warnings, [], f.folder)
            XCTAssertEqual(model.pooling.modes, [modes[f.pooling_mode]!], f.folder)
            XCTAssertEqual(model.embeddingDimension, f.embedding_dimension, f.folder)
            XCTAssertEqual(model.normalize, f.normalize, f.folder)
            XCTAssertEqual(model.maxSequenceLength, f.max_seq_length, f.folder)
            XCTAssertEqual(expected.texts.map(model.tokenize), f.token_ids, f.folder)
            try assertEmbeddings(model, expected.texts, f.embeddings, f.folder)

            // Ember's own save (the v2–v5.3 spelling every version reads) loads back to the same pipeline.
            let saved = FileManager.default.temporaryDirectory.appendingPathComponent("ember-layout-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: saved) }
            try model.save(to: saved)
            let reloaded = try SentenceModel(folder: saved)
            XCTAssertEqual(reloaded.pooling, model.pooling, f.folder)
            XCTAssertEqual(reloaded.maxSequenceLength, f.max_seq_length, f.folder)
            try assertEmbeddings(reloaded, expected.texts, f.embeddings, "\(f.folder) saved by Ember")
        }
    }

    func assertEmbeddings(_ model: SentenceModel, _ texts: [String], _ expected: [[Double]], _ name: String) throws {
        let D = model.embeddingDimension
        let values = model.encode(texts, batchSize: 4)
        for (i, row) in expected.enumerated() {
            let worst = (0..<D).map { abs(Double(values.pointer[i * D + $0]) - row[$0]) }.max()!
            XCTAssertLessThan(worst, 2e-6, "\(name), text \(i)")
        }
    }
}
