import EmberLosses
import XCTest

/// Each loss names its sentence-transformers class and `get_config_dict()` parameters; caching (a
/// property of the trainer) picks the `Cached…` class.
final class LossReferenceTests: XCTestCase {
    func parameters(_ reference: LossReference) -> [String: String] {
        Dictionary(uniqueKeysWithValues: reference.parameters.map { ($0.name, $0.value) })
    }

    func testMNRLFamily() throws {
        var reference = try MultipleNegativesRankingLoss().reference(in: LossReferenceContext())
        XCTAssertEqual(reference.className, "MultipleNegativesRankingLoss")
        XCTAssertEqual(parameters(reference), ["scale": "20.0", "similarity_fct": "\"cos_sim\"", "gather_across_devices": "false",
                                               "directions": "[\"query_to_doc\"]", "partition_mode": "\"joint\"",
                                               "hardness_mode": "null", "hardness_strength": "0.0"])
        reference = try MultipleNegativesRankingLoss(scale: 1, similarity: .dot).reference(in: LossReferenceContext(miniBatchTokens: 2048))
        XCTAssertEqual(reference.className, "CachedMultipleNegativesRankingLoss")
        XCTAssertEqual(parameters(reference)["mini_batch_num_tokens"], "2048")
        XCTAssertEqual(parameters(reference)["similarity_fct"], "\"dot_score\"")
        reference = try MultipleNegativesRankingLoss.symmetric().reference(in: LossReferenceContext(miniBatchSize: 16))
        XCTAssertEqual(reference.className, "CachedMultipleNegativesSymmetricRankingLoss")
        XCTAssertEqual(parameters(reference), ["scale": "20.0", "similarity_fct": "\"cos_sim\"", "gather_across_devices": "false", "mini_batch_size": "16"])
    }

    func testMatryoshkaOverCachedGIST() throws {
        let gist = try GISTEmbedLoss(temperature: 0.05, marginStrategy: .relative, margin: 0.1)
        let loss = try MatryoshkaLoss(wrapping: gist, dims: [32, 64], weights: [2, 1], modelDimension: 64, dimsPerStep: 1)
        let reference = loss.reference(in: LossReferenceContext(miniBatchSize: 8, guide: "owner/guide"))
        XCTAssertEqual(reference.classNames, ["MatryoshkaLoss", "CachedGISTEmbedLoss"])
        XCTAssertEqual(parameters(reference), ["loss": "\"CachedGISTEmbedLoss\"", "matryoshka_dims": "[64, 32]",
                                               "matryoshka_weights": "[1.0, 2.0]", "n_dims_per_step": "1"])
        XCTAssertEqual(parameters(reference.inner!), ["guide": "\"owner/guide\"", "temperature": "0.05", "margin_strategy": "\"relative\"",
                                                      "margin": "0.1", "contrast_anchors": "true", "contrast_positives": "true",
                                                      "gather_across_devices": "false", "mini_batch_size": "8"])
        XCTAssertEqual(gist.reference(in: LossReferenceContext()).className, "GISTEmbedLoss")
    }
}
