@testable import EmberReport
import EmberTestSupport
import XCTest

/// The model card renderer, without a model: the front matter is read back by PyYAML (what the Hub and
/// sentence-transformers read), and every number in it must equal the run's.
final class ModelCardTests: XCTestCase {
    /// A 45-step Matryoshka run with retrieval evaluations at 20, 40 and 45 (Ember's metric names).
    func makeInfo(step: Int = 45) throws -> ModelCard.Info {
        var lines: [String] = []
        for s in 1...45 {
            lines.append("{\"step\":\(s),\"epoch\":\(Double(s) / 15),\"loss\":\(3.0 - Double(s) * 0.05),\"lr\":2e-5,\"grad_norm\":1,\"pairs_per_s\":10,\"seconds\":\(Double(s) * 0.5)}")
            if s % 20 == 0 || s == 45 {
                let ndcg = 0.3 + Double(s) / 100, other = 0.123456789 + Double(s) / 1000
                lines.append("{\"step\":\(s),\"eval\":{\"64\":{\"ndcg@10\":\(ndcg),\"accuracy@1\":\(other),\"map@100\":null},\"16\":{\"ndcg@10\":\(ndcg / 2),\"accuracy@1\":1e-7,\"map@100\":0.25}}}")
            }
        }
        let log = try RunLog(jsonLines: lines.joined(separator: "\n"), source: "test")
        var info = ModelCard.Info(
            baseModel: "/models/my base: \"v1\" #2", modelPath: "/runs/out 1", maxSequenceLength: 128, outputDimension: 64,
            pooling: "mean", normalized: true, dataName: "pairs.jsonl", dataRows: 900, columns: ["anchor", "positive"],
            losses: [ModelCard.Loss(className: "MatryoshkaLoss", parameters: [("loss", "\"CachedGISTEmbedLoss\""), ("matryoshka_dims", "[64, 16]")]),
                     ModelCard.Loss(className: "CachedGISTEmbedLoss", parameters: [("guide", "\"g\""), ("temperature", "0.01"), ("mini_batch_size", "8")])],
            log: log, step: step, totalSteps: 45)
        info.matryoshkaDims = [64, 16]
        info.samples = [["a | pipe", "two\nlines"], [String(repeating: "long ", count: 100), "<b>&</b>"], ["x", "y"], ["not", "shown"]]
        info.tokenStatistics = [.init(column: "anchor", min: 3, mean: 7.256, max: 12), .init(column: "positive", min: 4, mean: 9, max: 30)]
        info.statisticsRows = 900
        info.hyperparameters = [("learning_rate", "2e-05"), ("batch_sampler", "no_duplicates")]
        info.evaluationData = "queries.jsonl, corpus.jsonl, qrels.jsonl"
        info.frameworkVersions = [("Ember", "0.1.0")]
        return info
    }

    func testFrontMatterParsesAsYAMLWithTheReferenceFields() throws {
        let info = try makeInfo()
        let card = ModelCard.render(info)
        let yaml = try YAMLFrontMatter.parseFrontMatter(card)
        XCTAssertEqual(yaml["library_name"] as? String, "sentence-transformers")
        XCTAssertEqual(yaml["pipeline_tag"] as? String, "sentence-similarity")
        XCTAssertEqual(yaml["base_model"] as? String, "/models/my base: \"v1\" #2")
        let tags = try XCTUnwrap(yaml["tags"] as? [String])
        for tag in ["sentence-transformers", "sentence-similarity", "feature-extraction", "loss:MatryoshkaLoss", "loss:CachedGISTEmbedLoss", "dataset_size:900"] {
            XCTAssertTrue(tags.contains(tag), "missing tag \(tag): \(tags)")
        }
        XCTAssertEqual(yaml["metrics"] as? [String], ["cosine_accuracy@1", "cosine_ndcg@10", "cosine_map@100"])
        let index = try XCTUnwrap((yaml["model-index"] as? [[String: Any]])?.first)
        XCTAssertEqual(index["name"] as? String, "SentenceTransformer based on /models/my base: \"v1\" #2")
        let results = try XCTUnwrap(index["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 2)
        let evaluation = try XCTUnwrap(info.log.evaluations.last)
        XCTAssertEqual(evaluation.step, 45)
        for (result, dim) in zip(results, ["64", "16"]) {
            XCTAssertEqual(result["task"] as? [String: String], ["type": "information-retrieval", "name": "Information Retrieval"])
            XCTAssertEqual(result["dataset"] as? [String: String], ["name": "dim \(dim)", "type": "dim_\(dim)"])
            let metrics = try XCTUnwrap(result["metrics"] as? [[String: Any]])
            // Undefined metrics (null in the log) are left out, as the reference leaves out non-numbers.
            let expected = evaluation.results[dim]!.compactMapValues { $0 }
            XCTAssertEqual(metrics.count, expected.count)
            for metric in metrics {
                let type = try XCTUnwrap(metric["type"] as? String)
                XCTAssertTrue(type.hasPrefix("cosine_"))
                // Exactly the logged value: the YAML carries the shortest round-trip digits.
                XCTAssertEqual(metric["value"] as? Double, expected[String(type.dropFirst(7))], type)
                XCTAssertEqual(metric["name"] as? String, "Cosine " + type.dropFirst(7).prefix(1).uppercased() + type.dropFirst(8))
            }
        }
    }

    func testACheckpointCardDescribesItsOwnStep() throws {
        // Step 30: no evaluation of these weights, so no model-index; later log lines are ignored.
        var card = ModelCard.render(try makeInfo(step: 30))
        var yaml = try YAMLFrontMatter.parseFrontMatter(card)
        XCTAssertNil(yaml["model-index"])
        XCTAssertTrue(card.contains("after step 30 of 45"))
        XCTAssertFalse(card.contains("| 45 |"))
        // Step 20 was evaluated: its values, not the final ones.
        card = ModelCard.render(try makeInfo(step: 20))
        yaml = try YAMLFrontMatter.parseFrontMatter(card)
        let results = try XCTUnwrap(((yaml["model-index"] as? [[String: Any]])?.first?["results"]) as? [[String: Any]])
        let ndcg = (results[0]["metrics"] as? [[String: Any]])?.first { $0["type"] as? String == "cosine_ndcg@10" }
        XCTAssertEqual(ndcg?["value"] as? Double, 0.3 + 20.0 / 100)
    }

    func testBodySectionsTablesAndEscaping() throws {
        let card = ModelCard.render(try makeInfo())
        for section in ["## Model Details", "## Usage", "SentenceTransformer(\"/runs/out 1\")", "ember encode --model '/runs/out 1'",
                        "## Evaluation", "## Training Details", "### Training Hyperparameters", "- `learning_rate`: 2e-05",
                        "### Training Logs", "### Training Time", "## Framework Versions", "- Ember: 0.1.0",
                        "**Maximum Sequence Length:** 128 tokens", "**Matryoshka dimensions:** 64, 16",
                        "\"mini_batch_size\": 8", "| mean | 7.26 tokens | 9.00 tokens |"] {
            XCTAssertTrue(card.contains(section), "missing \(section)")
        }
        // Sample cells: pipes escaped, line breaks as <br>, HTML escaped, long texts cut; three rows only.
        XCTAssertTrue(card.contains("<code>a \\| pipe</code> | <code>two<br>lines</code>"))
        XCTAssertTrue(card.contains("<code>&lt;b&gt;&amp;&lt;/b&gt;</code>"))
        XCTAssertTrue(card.contains("<code>" + String(repeating: "long ", count: 23) + "long…</code>"))
        XCTAssertFalse(card.contains("<code>not</code>"))
        // Evaluation table: metric rows × dim columns, the primary metric in bold.
        XCTAssertTrue(card.contains("| Metric | dim_64 | dim_16 |"))
        XCTAssertTrue(card.contains("| **cosine_ndcg@10** | **0.7500** | **0.3750** |"), card)
        XCTAssertTrue(card.contains("| cosine_map@100 | - | 0.2500 |"))
        // Training log: ≤ ~20 rows (every 3rd of 45 steps, plus the evaluated ones), mean loss since the previous row.
        let logLines = card.components(separatedBy: "### Training Logs")[1].split(separator: "\n").filter { $0.hasPrefix("| ") && $0.contains(".") }
        XCTAssertLessThanOrEqual(logLines.count, 21)
        XCTAssertTrue(card.contains("| 0.2000 | 3 | 2.9000 | - | - |"), card)   // steps 1–3: (2.95 + 2.9 + 2.85) / 3
        XCTAssertTrue(card.contains("| 1.3333 | 20 | 2.0250 | 0.5000 | 0.2500 |"), card)   // steps 19, 20
        XCTAssertTrue(card.contains("22.5 s for 45 optimiser steps"))
    }

    /// The loss blocks are JSON, and the Python snippet's string literals read back as the path, also
    /// with characters that need escapes (a JSON string literal is a Python one with the same value).
    func testLossBlocksAreJSONAndLiteralsReadBack() throws {
        var info = try makeInfo()
        info.modelPath = "/runs/a \"b\"\\c\u{01}\td"
        info.losses[1].parameters.append(("odd\u{7F}\u{02}name", "1"))
        let card = ModelCard.render(info)
        let blocks = card.components(separatedBy: "```json\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] }
        XCTAssertEqual(blocks.count, 2)
        for block in blocks { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(block.utf8)), block) }
        let wrapped = try JSONSerialization.jsonObject(with: Data(blocks[1].utf8)) as! [String: Any]
        XCTAssertEqual(wrapped["odd\u{7F}\u{02}name"] as? Int, 1)
        let call = try XCTUnwrap(card.components(separatedBy: "SentenceTransformer(").dropFirst().first?.components(separatedBy: ")\n").first)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(call.utf8), options: .fragmentsAllowed) as? String, info.modelPath)
    }

    func testYAMLScalarsRoundTripThroughPyYAML() throws {
        let strings = ["plain", "yes", "null", "1.5", "a: b", "#x", "- dash", "quote \" and \\ back", "tab\there", "new\nline",
                       "\u{7}bell", "\u{85}nel", "\u{2028}ls", "ünïcödé ✓ 🚀", "'single'", "@at", "", " lead", "trail ", "x:"]
        let numbers = [0.1, 1e-7, 123456789.0, 1e22, -0.0, 2.5e-300, 0.30000000000000004]
        let node = YAMLNode.map([("s", .list(strings.map(YAMLNode.string))), ("n", .list(numbers.map(YAMLNode.number))), ("e", .list([]))])
        let parsed = try XCTUnwrap(try YAMLFrontMatter.parse(node.lines().joined(separator: "\n")) as? [String: Any])
        XCTAssertEqual(parsed["s"] as? [String], strings)
        XCTAssertEqual(parsed["n"] as? [Double], numbers)
        XCTAssertEqual((parsed["e"] as? [Any])?.count, 0)
    }
}
