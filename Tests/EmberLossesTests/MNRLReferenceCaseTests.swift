import EmberLosses
import Foundation
import XCTest

/// Tests/Fixtures/mnrl_reference_cases.json (parity/make_mnrl_cases.py): MultipleNegativesRankingLoss as
/// sentence-transformers 6.2.0 computes it (torch, float64) for the options loss_vectors.json leaves out — dot
/// similarity, query_to_query / doc_to_doc beside query_to_doc, per-direction partitioning with every hardness
/// mode, the symmetric preset with hard negatives — and the configurations the library's constructor rejects.
/// Ember's loss is built from the options as the library names them and must give the same loss and
/// ∂L/∂(every column) to 1e-10, unchunked and chunked.
final class MNRLReferenceCaseTests: XCTestCase {
    typealias MNRL = MultipleNegativesRankingLoss

    struct Case {
        var name: String
        var options: [String: Any]
        var config: [String: Any]?
        var columns: [Matrix]
        var rejected: Bool
        var error: String?
        var loss: Double?
        var gradients: [Matrix]?
        var warnings: [String]
    }

    static let tolerance = 1e-10

    static let fixtureURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mnrl_reference_cases.json")

    func loadCases() throws -> [Case] {
        let data = try Data(contentsOf: Self.fixtureURL)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entries = try XCTUnwrap(root["cases"] as? [[String: Any]])
        func matrices(_ value: Any?) throws -> [Matrix] {
            let nested = try XCTUnwrap(value as? [[[NSNumber]]])
            return nested.map { column in Matrix(column.map { row in row.map(\.doubleValue) }) }
        }
        return try entries.map { entry in
            let rejected = try XCTUnwrap(entry["rejected"] as? Bool)
            return Case(name: try XCTUnwrap(entry["name"] as? String),
                        options: try XCTUnwrap(entry["options"] as? [String: Any]),
                        config: entry["config"] as? [String: Any],
                        columns: try matrices(entry["columns"]),
                        rejected: rejected,
                        error: entry["error"] as? String,
                        loss: (entry["loss"] as? NSNumber)?.doubleValue,
                        gradients: rejected ? nil : try matrices(entry["grads"]),
                        warnings: entry["warnings"] as? [String] ?? [])
        }
    }

    /// Ember's loss for the library's keyword arguments; absent ones take the library's defaults
    /// (scale 20, cos_sim, ("query_to_doc",), "joint", no hardness, strength 0).
    func emberLoss(_ options: [String: Any]) throws -> MNRL {
        let scale = (options["scale"] as? NSNumber)?.doubleValue ?? 20
        let similarity: MNRL.Similarity
        switch options["similarity_fct"] as? String ?? "cos_sim" {
        case "cos_sim": similarity = .cosine
        case "dot_score": similarity = .dot
        case let other: similarity = try XCTUnwrap(nil, "no Ember similarity for \(other)")
        }
        let directions = try (options["directions"] as? [String] ?? ["query_to_doc"]).map { name in
            try XCTUnwrap(MNRL.Direction(rawValue: name), "unknown direction \(name)")
        }
        let partition = try XCTUnwrap(MNRL.PartitionMode(rawValue: options["partition_mode"] as? String ?? "joint"))
        let hardness = try (options["hardness_mode"] as? String).map { try XCTUnwrap(MNRL.HardnessMode(rawValue: $0)) }
        let strength = (options["hardness_strength"] as? NSNumber)?.doubleValue ?? 0
        return try MNRL(scale: scale, similarity: similarity, directions: directions, partitionMode: partition,
                        hardnessMode: hardness, hardnessStrength: strength)
    }

    func testFixtureShape() throws {
        let cases = try loadCases()
        XCTAssertEqual(cases.count, 32)
        XCTAssertEqual(cases.filter(\.rejected).count, 6)
        for c in cases {
            XCTAssertEqual(c.rejected, c.name.hasSuffix("_rejected"), c.name)
            // Inputs are the closed form of reference_vectors.py (kind 0), B × D per case.
            for (k, column) in c.columns.enumerated() {
                let regenerated = referenceEmbedding(column: k, rows: column.rows, dim: column.cols)
                XCTAssertLessThan(maxAbsDifference(column, regenerated), 1e-12, "\(c.name) column \(k)")
            }
        }
    }

    func testLossAndGradientsMatchSentenceTransformers() throws {
        var report = [String]()
        var worstLoss = 0.0, worstGradient = 0.0
        for c in try loadCases() where !c.rejected {
            let loss = try emberLoss(c.options)
            // The configuration Ember built is the one the library reports (get_config_dict()).
            let config = try XCTUnwrap(c.config, c.name)
            XCTAssertEqual(loss.scale, (config["scale"] as? NSNumber)?.doubleValue, c.name)
            XCTAssertEqual(loss.similarity == .dot ? "dot_score" : "cos_sim", config["similarity_fct"] as? String, c.name)
            XCTAssertEqual(Set(loss.directions.map(\.rawValue)), Set(config["directions"] as? [String] ?? []), c.name)
            XCTAssertEqual(loss.partitionMode.rawValue, config["partition_mode"] as? String, c.name)
            XCTAssertEqual(loss.hardnessMode?.rawValue, config["hardness_mode"] as? String, c.name)
            XCTAssertEqual(loss.hardnessStrength, (config["hardness_strength"] as? NSNumber)?.doubleValue, c.name)

            let expectedLoss = try XCTUnwrap(c.loss, c.name), expectedGradients = try XCTUnwrap(c.gradients, c.name)
            for chunkRows in [nil, 2] as [Int?] {
                let what = "\(c.name)\(chunkRows.map { " (chunkRows \($0))" } ?? "")"
                let out = try loss.lossAndGradients(columns: c.columns, guide: nil, chunkRows: chunkRows)
                XCTAssertEqual(out.gradients.count, c.columns.count, what)
                guard out.gradients.count == expectedGradients.count else { continue }
                let lossError = abs(out.loss - expectedLoss)
                let gradientError = maxAbsDifference(out.gradients, expectedGradients)
                XCTAssertLessThanOrEqual(lossError, Self.tolerance, "\(what): loss \(out.loss) vs reference \(expectedLoss)")
                XCTAssertLessThanOrEqual(gradientError, Self.tolerance, "\(what): max |Δgrad| = \(gradientError)")
                if gradientError > Self.tolerance {
                    for (k, (mine, theirs)) in zip(out.gradients, expectedGradients).enumerated() {
                        print("  \(what) column \(k): Ember \(mine.values.prefix(4)) … vs reference \(theirs.values.prefix(4)) …")
                    }
                }
                worstLoss = max(worstLoss, lossError)
                worstGradient = max(worstGradient, gradientError)
                if chunkRows == nil {
                    report.append("  \(c.name): |Δloss| \(lossError), max |Δgrad| \(gradientError)")
                }
            }
        }
        print("MNRL reference cases (sentence-transformers 6.2.0):\n" + report.joined(separator: "\n"))
        print("worst |Δloss| = \(worstLoss), worst |Δgrad| = \(worstGradient)")
    }

    /// What the library's constructor rejects, Ember's rejects too.
    func testRejectedConfigurations() throws {
        for c in try loadCases() where c.rejected {
            XCTAssertThrowsError(try emberLoss(c.options), "\(c.name): the library rejects it (\(c.error ?? "?"))")
        }
    }

    /// A hardness mode with strength 0: the library logs a warning; Ember reports one.
    func testZeroStrengthWarning() throws {
        let warned = try loadCases().filter { !$0.rejected && !$0.warnings.isEmpty }
        XCTAssertEqual(warned.map(\.name), ["symmetric_per_direction_hard_negatives_a0_warns"])
        for c in warned {
            XCTAssertFalse(try emberLoss(c.options).warnings.isEmpty, c.name)
        }
        for c in try loadCases() where !c.rejected && c.warnings.isEmpty {
            XCTAssertTrue(try emberLoss(c.options).warnings.isEmpty, c.name)
        }
    }
}
