@testable import EmberMining
import Foundation
import XCTest

/// Parity with sentence-transformers' `mine_hard_negatives` at the selection level:
/// Tests/Fixtures/mining_reference.json (parity/make_mining_fixtures.py) ran the real function with a
/// stub model returning fixed vectors; Ember is fed the same vectors, so every output row (texts, order,
/// dropped rows, scores) and every summary line must match — random sampling included, since Ember draws
/// with CPython's generator (PythonRandom) seeded as the reference's run was.
final class MiningParityTests: XCTestCase {
    static let fixtureURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mining_reference.json")

    func testRowsAndSummaryEqualTheReference() throws {
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtureURL)) as? [String: Any])
        let vectors = try XCTUnwrap(root["vectors"] as? [String: [Double]]).mapValues { $0.map(Float.init) }
        let datasets = try XCTUnwrap(root["datasets"] as? [String: [[String]]])
        let corpus = try XCTUnwrap(root["corpus"] as? [String])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        var comparedRows = 0, randomCases = 0
        for c in cases {
            let name = c["name"] as! String
            let kwargs = c["kwargs"] as! [String: Any]
            let pairs = datasets[c["data"] as! String]!.map { ($0[0], $0[1]) }
            var options = referenceOptions(kwargs)
            // Random cases: the reference ran after random.seed(seed); --seed is that seed.
            if let seed = c["seed"] as? Int { options.seed = UInt64(seed); randomCases += 1 }
            let (_, result) = try mine(pairs, extra: (c["corpus"] as! Bool) ? corpus : [], vectors: vectors, options: options)
            XCTAssertEqual(result.table.columns, c["columns"] as! [String], name)
            let expected = c["rows"] as! [[String: Any]]
            XCTAssertEqual(result.table.rows.count, expected.count, name)
            for (r, (row, want)) in zip(result.table.rows, expected).enumerated() {
                for (column, value) in zip(result.table.columns, row) {
                    let message = "\(name), row \(r), \(column)"
                    switch value {
                    case .text(let s): XCTAssertEqual(s, want[column] as? String, message)
                    case .texts(let l): XCTAssertEqual(l, want[column] as? [String], message)
                    case .label(let n): XCTAssertEqual(n, want[column] as? Int, message)
                    case .labels(let l): XCTAssertEqual(l, want[column] as? [Int], message)
                    case .score(let x): XCTAssertEqual(Double(x), want[column] as? Double ?? .nan, accuracy: 1e-6, message)
                    case .scores(let l):
                        let w = want[column] as? [Double] ?? []
                        XCTAssertEqual(l.count, w.count, message)
                        for (a, b) in zip(l, w) { XCTAssertEqual(Double(a), b, accuracy: 1e-6, message) }
                    }
                }
                comparedRows += 1
            }
            XCTAssertEqual(result.summary, c["stdout"] as! [String], name)
        }
        XCTAssertGreaterThan(comparedRows, 1000)
        XCTAssertGreaterThanOrEqual(randomCases, 6)
    }
}
