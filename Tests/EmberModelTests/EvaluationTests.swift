import EmberCore
import EmberModel
import Foundation
import XCTest

/// Retrieval metrics on a hand-worked ranking, correlations against scipy's values, and the evaluator on a
/// model where every query's own text is in the corpus.
final class EvaluationTests: XCTestCase {
    func testRetrievalMetricsOnAHandWorkedExample() {
        var metrics = RetrievalMetrics()
        metrics.accuracyAt = [1, 3]; metrics.precisionRecallAt = [1, 3]
        // Query 1: relevant {1, 2} found at ranks 2 and 4. Query 2: relevant {0} found at rank 1.
        let m = metrics.compute(ranked: [[3, 1, 0, 2], [0, 1, 2, 3]], relevant: [[1, 2], [0]])
        let expected: [String: Double] = [
            "accuracy@1": 0.5, "accuracy@3": 1, "precision@1": 0.5, "precision@3": 1.0 / 3, "recall@1": 0.5, "recall@3": 0.75,
            "mrr@10": 0.75, "ndcg@10": (0.6509209298071326 + 1) / 2, "map@100": 0.75]
        XCTAssertEqual(Set(m.keys), Set(expected.keys))
        for (key, value) in expected { XCTAssertEqual(m[key]!, value, accuracy: 1e-12, key) }
    }

    func testCorrelationsMatchScipy() {
        let x: [Double] = [1, 2, 2, 3, 0.5, 7], y: [Double] = [1, 3, 2, 4, 0.2, 5]
        XCTAssertEqual(Correlation.pearson(x, y), 0.8879653362455986, accuracy: 1e-12)   // scipy.stats.pearsonr
        XCTAssertEqual(Correlation.spearman(x, y), 0.9856107606091624, accuracy: 1e-12)  // scipy.stats.spearmanr (ties)
        XCTAssertEqual(Correlation.ranks([3, 1, 3, 2]), [3.5, 1, 3.5, 2])
    }

    func testRetrievalFindsEachQuerysOwnText() throws {
        let model = try SentenceModel(folder: Paths.tinyBert)
        let texts = ["the cat sat on the mat", "a dog ran fast", "hello world", "the end of it all", "far away over the hill"]
        let corpus = texts.enumerated().map { (id: "d\($0.offset)", text: $0.element) }
        let queries = texts.enumerated().map { (id: "q\($0.offset)", text: $0.element) }
        let relevant = Dictionary(uniqueKeysWithValues: texts.indices.map { ("q\($0)", Set(["d\($0)"])) })
        let result = try Evaluator.retrieval(model: model, queries: queries, corpus: corpus, relevant: relevant, dims: [32, 8])
        XCTAssertEqual(Set(result.keys), ["32", "8"])
        XCTAssertEqual(result["32"]!["ndcg@10"]!, 1, accuracy: 1e-9)
        XCTAssertEqual(result["32"]!["accuracy@1"]!, 1, accuracy: 1e-9)
        XCTAssertEqual(result["32"]!["recall@10"]!, 1, accuracy: 1e-9)
    }
}
