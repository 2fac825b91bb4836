import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import EmberTestSupport
import Foundation
import XCTest

enum TrainingPaths {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures")
    static let tinyBert = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/tiny-bert")

    /// Skipped without EMBER_MINILM_DIR, a failure under CI (see MiniLMFolder).
    static func miniLM() throws -> URL { try MiniLMFolder.require() }
}

/// Texts made only of words in tiny-bert's vocabulary (../shared/reference/tiny-bert/vocab.txt), so every
/// token is a real one — no [UNK] — and sequences differ in content, not just in length.
enum TinyTexts {
    /// Whole words of the 45-token vocabulary ("texts", "texting", "anchors" are two word pieces each).
    static let words = ["the", "a", "is", "of", "and", "to", "in", "short", "text", "anchor", "positive", "negative",
                        "texts", "texting", "anchors", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
                        "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z"]

    /// `count` distinct texts of 2…9 words, deterministic; the first two words spell (i, salt) so texts
    /// of one call differ and so do those of different salts (for i < 200, salt < 8).
    static func make(_ count: Int, salt: Int) -> [String] {
        (0..<count).map { i in
            let key = i * 8 + salt
            let n = 2 + (i * 7 + salt * 3) % 8
            let head = [words[key % words.count], words[(key / words.count) % words.count]]
            let tail = (2..<max(2, n)).map { j in words[(i * 5 + j * 3 + salt * 11 + i * j) % words.count] }
            return (head + tail).joined(separator: " ")
        }
    }

    static func batch(rows: Int, columns: Int, model: SentenceModel) -> TokenizedBatch {
        let texts = (0..<columns).map { make(rows, salt: $0 + 1) }
        return TokenizedBatch(columns: texts.map { $0.map(model.tokenize) }, texts: texts)
    }

    /// A training set of `rows` rows: anchor, positive and (columns > 2) hard negatives, all distinct.
    static func data(rows: Int, columns: Int) -> TrainingData {
        let names = ["anchor", "positive"] + (2..<max(2, columns)).map { "negative_\($0 - 1)" }
        let texts = (0..<columns).map { make(rows, salt: $0 + 1) }
        return TrainingData(columnNames: names, rows: (0..<rows).map { i in texts.map { $0[i] } })
    }
}

/// ‖a − b‖ / max(‖b‖, floor).
func relativeDifference<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ a: [A], _ b: [B], floor: Double = 1e-30) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, norm = 0.0
    for i in 0..<a.count {
        let x = Double(a[i]), y = Double(b[i])
        diff += (x - y) * (x - y); norm += y * y
    }
    return diff.squareRoot() / max(norm.squareRoot(), floor)
}

/// Every parameter's current values.
func weights(_ model: SentenceModel) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value.array) })
}

/// Snapshot of every parameter gradient.
func gradients(_ model: SentenceModel) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.grad.array) })
}

/// ‖a − b‖ / ‖b‖ per tensor; asserts each is ≤ tolerance and that the gradients are not all zero.
/// A tensor whose true gradient is zero (attention.self.key.bias: softmax ignores a per-row constant)
/// holds only rounding noise, so its norm is floored at 1e-4 of the largest tensor's norm.
func assertGradientsEqual(_ a: [String: [Float]], _ b: [String: [Float]], relative tolerance: Double, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line)
    func norm(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
    let largest = b.values.map(norm).max() ?? 0
    XCTAssertGreaterThan(largest, 0, "\(what): gradients are all zero", file: file, line: line)
    for (name, ga) in a {
        let gb = b[name]!
        let diff = zip(ga, gb).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        XCTAssertLessThanOrEqual(diff / max(norm(gb), 1e-4 * largest), tolerance, "\(what): \(name)", file: file, line: line)
    }
}
