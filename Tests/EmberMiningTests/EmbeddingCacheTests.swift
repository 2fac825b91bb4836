import EmberCore
@testable import EmberMining
import Foundation
import XCTest

/// SHA-256 against FIPS 180-4's examples, and the mining embedding cache: round trip, keys that change
/// with the model's content, the prompt and the text order, write-once, and refusal of a file that does
/// not fit.
final class EmbeddingCacheTests: XCTestCase {
    func digest(_ text: String) -> String {
        var h = SHA256()
        h.update(text)
        return SHA256.hex(h.finalize())
    }

    func testSHA256KnownAnswers() {
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Raw-memory updates (whole blocks) agree with byte updates, across block boundaries.
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        for split in [0, 1, 63, 64, 65, 500, 990, 999, 1000] {
            var a = SHA256(), b = SHA256()
            a.update(bytes)
            b.update(Array(bytes[..<split]))
            bytes[split...].withUnsafeBytes { b.update($0) }
            XCTAssertEqual(a.finalize(), b.finalize(), "split \(split)")
        }
    }

    func testRoundTripKeysAndRefusal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ember-cache-\(UUID().uuidString)")
        let model = dir.appendingPathComponent("model"), cacheFolder = dir.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: model.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: cacheFolder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try Data([1, 2, 3]).write(to: model.appendingPathComponent("model.safetensors"))
        try Data("{}".utf8).write(to: model.appendingPathComponent("1_Pooling/config.json"))

        let cache = try EmbeddingCache(folder: cacheFolder, modelFolder: model)
        let url = cache.url(side: "query", texts: ["a", "b"], prompt: nil)
        XCTAssertTrue(url.lastPathComponent.hasPrefix("query_embeddings_") && url.pathExtension == "npy")
        XCTAssertNotEqual(url, cache.url(side: "query", texts: ["b", "a"], prompt: nil), "order is part of the key")
        XCTAssertNotEqual(url, cache.url(side: "query", texts: ["a", "b"], prompt: ""), "an empty prompt is not no prompt")
        XCTAssertNotEqual(url, cache.url(side: "corpus", texts: ["a", "b"], prompt: nil))
        XCTAssertNotEqual(url, cache.url(side: "query", texts: ["ab"], prompt: nil), "texts are length-delimited")

        XCTAssertNil(try EmbeddingCache.load(url, rows: 2, dim: 3))
        let values = FloatBuffer([0.5, -1, 2, 3, 4.25, -0])
        try EmbeddingCache.store(values, rows: 2, dim: 3, at: url)
        XCTAssertEqual(try EmbeddingCache.load(url, rows: 2, dim: 3)?.array, values.array)
        try EmbeddingCache.store(FloatBuffer([9, 9, 9, 9, 9, 9]), rows: 2, dim: 3, at: url)
        XCTAssertEqual(try EmbeddingCache.load(url, rows: 2, dim: 3)?.array, values.array, "an existing file is never rewritten")
        XCTAssertThrowsError(try EmbeddingCache.load(url, rows: 3, dim: 2)) { error in
            XCTAssertTrue("\(error)".contains("does not hold 3 × 2 float32 embeddings"), "\(error)")
        }
        try Data("not numpy".utf8).write(to: url)
        XCTAssertThrowsError(try EmbeddingCache.load(url, rows: 2, dim: 3))

        // Other weights at the same path: another key. A checkpoint or log beside them: the same key.
        try Data("{\"a\": 1}".utf8).write(to: model.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(try EmbeddingCache.modelFingerprint(model), cache.model)
        try Data([1, 2, 4]).write(to: model.appendingPathComponent("model.safetensors"))
        XCTAssertNotEqual(try EmbeddingCache.modelFingerprint(model), cache.model)
        try Data([1, 2, 3]).write(to: model.appendingPathComponent("model.safetensors"))
        try Data("{\"pooling_mode_cls_token\": true}".utf8).write(to: model.appendingPathComponent("1_Pooling/config.json"))
        XCTAssertNotEqual(try EmbeddingCache.modelFingerprint(model), cache.model, "module configs count")
    }
}
