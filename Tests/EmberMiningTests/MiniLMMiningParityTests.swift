import EmberCore
@testable import EmberMining
import EmberModel
import EmberTestSupport
import Foundation
import XCTest

/// End-to-end parity with the real all-MiniLM-L6-v2: Tests/Fixtures/mining_minilm.json
/// (parity/make_mining_minilm_fixture.py) holds `mine_hard_negatives`' output on 500 real pairs; Ember
/// encodes with its own encoder (~1e-6 from PyTorch), so a near-tie may flip a row: issue #9 asks for at
/// least 99% of the rows equal. Equal rows must carry the reference's scores to 1e-5.
final class MiniLMMiningParityTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testRowsMatchTheReferenceWithTheRealModel() throws {
        let model = try SentenceModel(folder: MiniLMFolder.require())
        let fixtureURL = Self.repoRoot.appendingPathComponent("Tests/Fixtures/mining_minilm.json")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as? [String: Any])
        let lines = try TextFiles.lines(of: Self.repoRoot.appendingPathComponent(root["data"] as! String))
            .prefix(root["rows"] as! Int)
        let pairs = try lines.map { line -> (anchor: String, positive: String) in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            return (anchor: object["anchor"]!, positive: object["positive"]!)
        }
        let corpus = try TextFiles.texts(from: Self.repoRoot.appendingPathComponent(root["corpus"] as! String))

        // Encode every distinct text once, for both problems.
        let withCorpus = MiningProblem(pairs: pairs, extraCorpus: corpus), plain = MiningProblem(pairs: pairs)
        let texts = Array(Set(withCorpus.corpus + withCorpus.queries))
        let D = model.embeddingDimension
        let embedded = model.encode(texts, batchSize: 64, normalize: true)
        let row = Dictionary(uniqueKeysWithValues: texts.enumerated().map { ($1, $0) })
        func matrix(_ list: [String]) -> [Float] {
            list.flatMap { Array(UnsafeBufferPointer(start: embedded.pointer + row[$0]! * D, count: D)) }
        }

        for c in root["cases"] as! [[String: Any]] {
            let name = c["name"] as! String
            let problem = (c["corpus"] as! Bool) ? withCorpus : plain
            let result = try HardNegativeMiner.mine(problem: problem, queryEmbeddings: matrix(problem.queries),
                                                    corpusEmbeddings: matrix(problem.corpus), dim: D,
                                                    options: referenceOptions(c["kwargs"] as! [String: Any]))
            XCTAssertEqual(result.table.columns, c["columns"] as! [String], name)
            let expected = c["rows"] as! [[String: Any]]
            // Rows keyed by their texts, scores compared for the rows both sides have.
            func key(_ values: [String: Any]) -> String {
                result.table.columns.filter { !["scores", "score", "label", "labels"].contains($0) }
                    .map { "\(values[$0] ?? "")" }.joined(separator: "\u{1}")
            }
            var theirs: [String: [String: Any]] = [:]
            for r in expected { theirs[key(r)] = r }
            var equal = 0
            for r in result.table.rows {
                var values: [String: Any] = [:]
                for (column, value) in zip(result.table.columns, r) {
                    switch value {
                    case .text(let s): values[column] = s
                    case .texts(let l): values[column] = l
                    case .score(let x): values[column] = Double(x)
                    case .scores(let l): values[column] = l.map(Double.init)
                    case .label(let n): values[column] = n
                    case .labels(let l): values[column] = l
                    }
                }
                guard let match = theirs[key(values)] else { continue }
                equal += 1
                for column in ["scores", "score"] {
                    let a = (values[column] as? [Double]) ?? (values[column] as? Double).map { [$0] } ?? []
                    let b = (match[column] as? [Double]) ?? (match[column] as? Double).map { [$0] } ?? []
                    XCTAssertEqual(a.count, b.count, name)
                    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5, name) }
                }
            }
            let total = max(expected.count, result.table.rows.count)
            XCTAssertGreaterThan(total, 0, name)
            XCTAssertGreaterThanOrEqual(Double(equal), 0.99 * Double(total), "\(name): \(equal) of \(total) rows equal")
            print("mining parity (MiniLM) \(name): \(equal) of \(total) rows equal")
        }
    }
}
