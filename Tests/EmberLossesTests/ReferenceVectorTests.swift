import EmberLosses
import XCTest

/// Every case of ../shared/reference/loss_vectors.json (sentence-transformers 6.2.0, torch, float64):
/// loss and ∂L/∂(every column) to 1e-6. Inputs are regenerated from the closed form of
/// reference_vectors.py; the configuration of each case is read off that script.
final class ReferenceVectorTests: XCTestCase {
    struct Configuration {
        var loss: any EmbeddingLoss
        var chunkRows: Int?
        var usesGuide = false
    }

    /// The case's configuration, from its JSON key (the part before " (…)" comments).
    func configuration(for name: String) throws -> Configuration? {
        typealias MNRL = MultipleNegativesRankingLoss
        let key = String(name.split(separator: " ").first ?? "")
        switch key {
        case "mnrl_pairs_default", "mnrl_triplets_default", "mnrl_2neg_default":
            return Configuration(loss: try MNRL())
        case "mnrl_pairs_scale50":
            return Configuration(loss: try MNRL(scale: 50))
        case "mnrl_symmetric_per_direction", "mnsrl_triplets":
            return Configuration(loss: try MNRL.symmetric())
        case "mnrl_symmetric_joint":
            return Configuration(loss: try MNRL(directions: [.queryToDoc, .docToQuery], partitionMode: .joint))
        case "mnrl_gte_all4_joint_triplets":
            return Configuration(loss: try MNRL.gte())
        case "mnrl_hard_in_batch_negatives_a9":
            return Configuration(loss: try MNRL(hardnessMode: .inBatchNegatives, hardnessStrength: 9))
        case "mnrl_hard_hard_negatives_a5":
            return Configuration(loss: try MNRL(hardnessMode: .hardNegatives, hardnessStrength: 5))
        case "mnrl_hard_all_negatives_a5":
            return Configuration(loss: try MNRL(hardnessMode: .allNegatives, hardnessStrength: 5))
        case "cmnrl_mbs3_triplets":
            return Configuration(loss: try MNRL(), chunkRows: 3)
        case "cmnrl_mbs3_gte_all4":
            return Configuration(loss: try MNRL.gte(), chunkRows: 3)
        case "gist_pairs_default_T0.01", "gist_triplets_default_T0.01":
            return Configuration(loss: try GISTEmbedLoss(), usesGuide: true)
        case "gist_pairs_T0.05", "gist_triplets_T0.05_abs_margin0":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05), usesGuide: true)
        case "gist_triplets_T0.05_abs_margin0.1":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05, margin: 0.1), usesGuide: true)
        case "gist_triplets_T0.05_rel_margin0.1":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05, marginStrategy: .relative, margin: 0.1), usesGuide: true)
        case "gist_triplets_T0.05_no_contrast_anchors_positives":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05, contrastAnchors: false, contrastPositives: false), usesGuide: true)
        case "gist_triplets_T0.05_contrast_positives_only":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05, contrastAnchors: false), usesGuide: true)
        case "cgist_mbs3_triplets_T0.05_abs_margin0.1":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05, margin: 0.1), chunkRows: 3, usesGuide: true)
        case "cgist_mbs2_4cols_T0.05":
            return Configuration(loss: try GISTEmbedLoss(temperature: 0.05), chunkRows: 2, usesGuide: true)
        case "matryoshka_mnrl_dims842_w1_.5_.25_triplets":
            return Configuration(loss: try MatryoshkaLoss(wrapping: MNRL(), dims: [8, 4, 2], weights: [1, 0.5, 0.25], modelDimension: 8))
        case "matryoshka_cmnrl_mbs3":
            return Configuration(loss: try MatryoshkaLoss(wrapping: MNRL(), dims: [8, 4, 2], weights: [1, 0.5, 0.25], modelDimension: 8),
                                 chunkRows: 3)
        default:
            return nil
        }
    }

    func testEveryReferenceCase() throws {
        let cases = try loadReferenceCases()
        // 25 keys (the spec §16 table folds several keys into one row, e.g. mnrl_symmetric_per_direction == mnsrl_triplets).
        XCTAssertEqual(cases.count, 25, "loss_vectors.json should hold 25 cases")
        var worstLoss = 0.0, worstGradient = 0.0
        for reference in cases {
            guard let config = try configuration(for: reference.name) else {
                XCTFail("no configuration for reference case \(reference.name)")
                continue
            }
            let columns = (0..<reference.ncols).map { referenceEmbedding(column: $0) }
            var guide: [Matrix]? = nil
            if config.usesGuide {
                guide = (0..<reference.ncols).map { referenceGuide(column: $0) }
                // Where the JSON stores the guide, the regenerated one must be the same.
                if let stored = reference.guide {
                    XCTAssertLessThan(maxAbsDifference(stored, guide!), 1e-12, "\(reference.name): regenerated guide")
                    guide = stored
                }
            }
            if let dims = reference.dims, let loss = config.loss as? MatryoshkaLoss {
                XCTAssertEqual(loss.dims, dims, reference.name)
                XCTAssertEqual(loss.weights, reference.weights, reference.name)
            }
            let out = try config.loss.lossAndGradients(columns: columns, guide: guide, chunkRows: config.chunkRows)
            XCTAssertEqual(out.gradients.count, reference.ncols, reference.name)
            let lossError = abs(out.loss - reference.loss)
            let gradientError = maxAbsDifference(out.gradients, reference.gradients)
            XCTAssertLessThan(lossError, 1e-6, "\(reference.name): loss \(out.loss) vs \(reference.loss)")
            XCTAssertLessThan(gradientError, 1e-6, "\(reference.name): max |Δgrad| \(gradientError)")
            worstLoss = max(worstLoss, lossError)
            worstGradient = max(worstGradient, gradientError)
        }
        print("reference cases: \(cases.count), worst |Δloss| = \(worstLoss), worst |Δgrad| = \(worstGradient)")
    }

    /// The spec's table (§16) pins these values; a stale JSON would be caught here too.
    func testSpecTableValues() throws {
        let byName = Dictionary(uniqueKeysWithValues: try loadReferenceCases().map { ($0.name, $0.loss) })
        XCTAssertEqual(byName["mnrl_gte_all4_joint_triplets"]!, 1.145168444175, accuracy: 1e-11)
        XCTAssertEqual(byName["gist_triplets_T0.05_abs_margin0.1"]!, 0.555170119221, accuracy: 1e-11)
        let loss = try MultipleNegativesRankingLoss.gte().lossAndGradients(columns: (0..<3).map { referenceEmbedding(column: $0) })
        XCTAssertEqual(loss.loss, 1.145168444175, accuracy: 1e-11)
    }
}
