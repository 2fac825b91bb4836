import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// Full-model parameter gradients against sentence-transformers 6.2 (fixtures written by
/// parity/make_gradient_fixtures.py with dropout off): relative error ≤ 3e-4 per tensor (worst measured
/// 1.5e-4, all-MiniLM-L6-v2 MNRL; README states both). tiny-bert
/// fixtures hold every gradient; all-MiniLM-L6-v2 fixtures hold small tensors in full, the used
/// word-embedding rows, each tensor's norm and 32 random-sign projections ("sketches") of the rest —
/// for an error vector e, E[(⟨e, r⟩)²] = ‖e‖², so the projections estimate the error norm.
final class GradientParityTests: XCTestCase {
    struct Fixture: Decodable {
        struct LossConfig: Decodable {
            let `class`: String
            let scale: Double?
            let temperature: Double?
            let margin: Double?
            let margin_strategy: String?
            let mini_batch_size: Int?
            let matryoshka_dims: [Int]?
            let matryoshka_weights: [Double]?
            let inner: Inner?
            struct Inner: Decodable {
                let `class`: String
                let mini_batch_size: Int?
                let temperature: Double?
                let margin: Double?
                let margin_strategy: String?
            }
        }
        struct TensorGradient: Decodable {
            let shape: [Int]
            let norm: Double
            let full: [Double]?
            let sketch: [Double]?
            let rows_used: [Int]?
            let full_rows: [[Double]]?
        }
        let loss: LossConfig
        let columns: [[String]]
        let token_ids: [[[Int32]]]
        let loss_value: Double
        let decoded_texts_for_guide: [[String]]?
        let tensors: [String: TensorGradient]
    }

    static func sketch(_ g: [Float], k: Int) -> Double {
        var sum = 0.0
        for i in 0..<g.count where g[i] != 0 {
            var z = (UInt64(k) << 40) ^ UInt64(i)
            z = z &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z = z ^ (z >> 31)
            sum += (z >> 63) == 0 ? Double(g[i]) : -Double(g[i])
        }
        return sum
    }

    func makeLoss(_ config: Fixture.LossConfig, dimension: Int) throws -> (EmbeddingLoss, Int?) {
        switch config.class {
        case "MultipleNegativesRankingLoss": return (try MultipleNegativesRankingLoss(scale: config.scale ?? 20), nil)
        case "MultipleNegativesSymmetricRankingLoss": return (try MultipleNegativesRankingLoss.symmetric(scale: config.scale ?? 20), nil)
        case "GISTEmbedLoss", "CachedGISTEmbedLoss":
            let loss = try GISTEmbedLoss(temperature: config.temperature ?? 0.01,
                                         marginStrategy: config.margin_strategy == "relative" ? .relative : .absolute,
                                         margin: config.margin ?? 0)
            return (loss, config.mini_batch_size)
        case "MatryoshkaLoss":
            let inner = config.inner!
            let base: EmbeddingLoss = inner.class.contains("GIST")
                ? try GISTEmbedLoss(temperature: inner.temperature ?? 0.01, margin: inner.margin ?? 0)
                : try MultipleNegativesRankingLoss()
            return (try MatryoshkaLoss(wrapping: base, dims: config.matryoshka_dims!, weights: config.matryoshka_weights,
                                       modelDimension: dimension), inner.mini_batch_size)
        default:
            throw XCTSkip("no mapping for \(config.class)")
        }
    }

    func check(_ name: String, model modelFolder: URL) throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: TrainingPaths.fixtures.appendingPathComponent(name)))
        let model = try SentenceModel(folder: modelFolder)
        let (loss, miniBatch) = try makeLoss(fixture.loss, dimension: model.embeddingDimension)
        let tokenized = fixture.columns.map { $0.map(model.tokenize) }
        XCTAssertEqual(tokenized, fixture.token_ids, "\(name): tokenization")
        let guide = loss.needsGuide ? GuideEmbedder(model: try SentenceModel(folder: TrainingPaths.tinyBert)) : nil
        // sentence-transformers hands the guide the model tokens decoded back to text; feed it the same.
        let batch = TokenizedBatch(columns: tokenized, texts: fixture.decoded_texts_for_guide ?? fixture.columns)
        let engine = try GradCacheEngine(model: model, loss: loss, guide: guide, miniBatching: miniBatch.map { .size($0) } ?? .none,
                                         hiddenDropout: 0, attentionDropout: 0, seed: 0)
        model.parameters.forEach { $0.zeroGrad() }
        let result = try engine.step(batch, step: 0)
        XCTAssertEqual(result.loss, fixture.loss_value, accuracy: 1e-4 * max(abs(fixture.loss_value), 1e-2), "\(name): loss")
        let largest = fixture.tensors.values.map(\.norm).max()!
        var worst = 0.0
        for parameter in model.parameters {
            guard let reference = fixture.tensors[parameter.name] else { XCTFail("\(name): no fixture for \(parameter.name)"); continue }
            XCTAssertEqual(reference.shape, parameter.shape)
            let g = parameter.grad.array
            // key.bias has a zero true gradient (softmax ignores per-row constants): floor the norm.
            let scale = max(reference.norm, 1e-4 * largest)
            var error: Double
            if let full = reference.full {
                error = zip(g, full).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }.squareRoot()
            } else {
                let sketches = reference.sketch!
                let squared = (0..<sketches.count).reduce(0.0) { acc, k in
                    let d = Self.sketch(g, k: k) - sketches[k]
                    return acc + d * d
                }
                error = (squared / Double(sketches.count)).squareRoot()
            }
            if let rows = reference.rows_used, let fullRows = reference.full_rows {
                let width = parameter.shape[1]
                var rowError = 0.0
                for (r, row) in rows.enumerated() {
                    for j in 0..<width { let d = Double(g[row * width + j]) - fullRows[r][j]; rowError += d * d }
                }
                error = max(error, rowError.squareRoot())
            }
            let ourNorm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertEqual(ourNorm, reference.norm, accuracy: 3e-4 * scale, "\(name): \(parameter.name) norm")
            XCTAssertLessThanOrEqual(error / scale, 3e-4, "\(name): \(parameter.name)")
            worst = max(worst, error / scale)
        }
        print("gradient parity \(name): loss \(result.loss) vs \(fixture.loss_value), worst relative tensor error \(worst)")
    }

    func testTinyMNRL() throws { try check("grad_tiny_mnrl.json", model: TrainingPaths.tinyBert) }
    func testTinyMNRLTriplets() throws { try check("grad_tiny_mnrl_triplets.json", model: TrainingPaths.tinyBert) }
    func testTinySymmetric() throws { try check("grad_tiny_mnsrl.json", model: TrainingPaths.tinyBert) }
    func testMiniLMMNRL() throws { try check("grad_minilm_mnrl.json", model: try TrainingPaths.miniLM()) }
    func testMiniLMGIST() throws { try check("grad_minilm_gist.json", model: try TrainingPaths.miniLM()) }
    func testMiniLMCachedGIST() throws { try check("grad_minilm_cgist.json", model: try TrainingPaths.miniLM()) }
    func testMiniLMMatryoshkaCachedMNRL() throws { try check("grad_minilm_matryoshka_cmnrl.json", model: try TrainingPaths.miniLM()) }
    func testMiniLMMatryoshkaCachedGIST() throws { try check("grad_minilm_matryoshka_cgist.json", model: try TrainingPaths.miniLM()) }
}
