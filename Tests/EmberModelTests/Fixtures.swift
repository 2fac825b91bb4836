import EmberCore
import EmberModel
import EmberTestSupport
import Foundation
import XCTest

/// Where tests find their inputs: committed fixtures in Tests/Fixtures, the shared reference material
/// in ../shared, and the real all-MiniLM-L6-v2 folder named by EMBER_MINILM_DIR (`make test` sets it).
enum Paths {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures")
    static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let tinyBert = shared.appendingPathComponent("reference/tiny-bert")

    /// Skipped without EMBER_MINILM_DIR, a failure under CI (see MiniLMFolder).
    static func miniLM() throws -> URL { try MiniLMFolder.require() }
}

/// An encode-parity fixture written by parity/make_fixtures.py with the real sentence-transformers.
struct EncodeFixture: Decodable {
    let texts: [String]
    let token_ids: [[Int32]]
    let embeddings: [[Double]]
    let cls_embeddings: [[Double]]?
    let max_embeddings: [[Double]]?
    let mean_unnormalized: [[Double]]?

    static func load(_ name: String) throws -> EncodeFixture {
        let data = try Data(contentsOf: Paths.fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode(EncodeFixture.self, from: data)
    }
}

func cosine(_ a: UnsafePointer<Float>, _ b: [Double]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for j in 0..<b.count { dot += Double(a[j]) * b[j]; na += Double(a[j]) * Double(a[j]); nb += b[j] * b[j] }
    return dot / max((na * nb).squareRoot(), 1e-300)
}

/// A temporary folder removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ember-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Copies a model folder so a test can damage it.
func copyFolder(_ source: URL, _ test: XCTestCase) throws -> URL {
    let target = try temporaryFolder(test).appendingPathComponent("model")
    try FileManager.default.copyItem(at: source, to: target)
    // ../shared is read-only: make the copy writable.
    if let items = FileManager.default.enumerator(atPath: target.path) {
        for case let item as String in items {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target.appendingPathComponent(item).path)
        }
    }
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target.path)
    return target
}
