import EmberTestSupport
import Foundation
import XCTest

/// `ember train` from the outside: the SGD identity that makes gradient parity checkable with nothing but
/// a saved folder, checkpoint/resume equality, the saved folder's layout, and bad flags.
final class TrainCLITests: XCTestCase {
    func tensors(_ url: URL) throws -> [String: [Float]] { try readF32Tensors(url) }

    func testSGDOneStepIsWeightsMinusLearningRateTimesTheReferenceGradient() throws {
        // The 6 pairs of the sentence-transformers gradient fixture grad_tiny_mnrl.json.
        let fixtureURL = CLITests.repoRoot.appendingPathComponent("Tests/Fixtures/grad_tiny_mnrl.json")
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as! [String: Any]
        let columns = fixture["columns"] as! [[String]]
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        let lines = (0..<columns[0].count).map { i in
            String(decoding: try! JSONSerialization.data(withJSONObject: ["anchor": columns[0][i], "positive": columns[1][i]], options: [.sortedKeys]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let lr: Float = 0.5
        let r = try ember(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", out.path,
                               "--optimizer", "sgd", "--weight-decay", "0", "--max-grad-norm", "0", "--scheduler", "constant",
                               "--warmup-steps", "0", "--dropout", "0", "--max-steps", "1", "--batch-size", "6", "--lr", "\(lr)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let before = try tensors(URL(fileURLWithPath: CLITests.tinyBert).appendingPathComponent("model.safetensors"))
        let after = try tensors(out.appendingPathComponent("model.safetensors"))
        let reference = fixture["tensors"] as! [String: [String: Any]]
        var checked = 0
        for (name, gradient) in reference {
            let g = (gradient["full"] as! [Double])
            let w0 = before[name]!, w1 = after[name]!
            XCTAssertEqual(w1.count, g.count, name)
            var diff = 0.0, norm = 0.0
            for i in 0..<g.count {
                let expected = Double(w0[i]) - Double(lr) * g[i]
                diff += (Double(w1[i]) - expected) * (Double(w1[i]) - expected)
                norm += Double(lr) * g[i] * Double(lr) * g[i]
            }
            // The update lr·g must match to 1e-3 of its norm (floor for key.bias, whose true gradient is 0).
            XCTAssertLessThanOrEqual(diff.squareRoot(), 1e-3 * max(norm.squareRoot(), 1e-4), name)
            checked += 1
        }
        XCTAssertEqual(checked, 37)
        // Untrained tensors (the pooler) are saved unchanged.
        XCTAssertEqual(after["pooler.dense.weight"], before["pooler.dense.weight"])
    }

    func writePairs(_ url: URL, count: Int) throws {
        let words = ["the", "cat", "dog", "sat", "on", "mat", "a", "hello", "world", "is", "near", "end", "of", "it", "all"]
        let lines = (0..<count).map { i -> String in
            let a = (0..<(2 + i % 4)).map { words[(i * 3 + $0 * 5) % words.count] }.joined(separator: " ") + " \(i)"
            let p = (0..<(3 + i % 5)).map { words[(i * 7 + $0 * 2) % words.count] }.joined(separator: " ") + " p\(i)"
            return "{\"anchor\": \"\(a)\", \"positive\": \"\(p)\"}"
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func testResumeFromACheckpointEndsWithTheSameWeights() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        try writePairs(data, count: 24)
        let common = ["train", "--model", CLITests.tinyBert, "--data", data.path, "--batch-size", "4", "--epochs", "2",
                      "--lr", "1e-3", "--mini-batch-size", "3", "--save-steps", "4", "--seed", "5"]
        let full = dir.appendingPathComponent("full"), resumed = dir.appendingPathComponent("resumed")
        var r = try ember(common + ["--output", full.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        // checkpoint-4 is exactly what a run killed after step 4 leaves behind.
        let checkpoint = full.appendingPathComponent("checkpoint-4")
        for name in ["model.safetensors", "optimizer.safetensors", "trainer_state.json", "modules.json", "1_Pooling/config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent(name).path), name)
        }
        r = try ember(common + ["--output", resumed.path, "--resume", checkpoint.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try tensors(full.appendingPathComponent("model.safetensors"))
        let b = try tensors(resumed.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, w) in a { XCTAssertEqual(w, b[name]!, name) }
        let start = try tensors(URL(fileURLWithPath: CLITests.tinyBert).appendingPathComponent("model.safetensors"))
        XCTAssertNotEqual(a["encoder.layer.0.output.dense.weight"], start["encoder.layer.0.output.dense.weight"], "training changed nothing")
        // The metrics log has one line per optimiser step, with the documented fields.
        let metrics = try String(contentsOf: full.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(metrics.count, 12)
        let first = try JSONSerialization.jsonObject(with: Data(metrics[0].utf8)) as! [String: Any]
        for key in ["step", "epoch", "loss", "lr", "grad_norm", "pairs_per_s", "seconds"] { XCTAssertNotNil(first[key], key) }
        // Resuming with different flags is refused rather than silently diverging.
        r = try ember(common.map { $0 == "5" ? "6" : $0 } + ["--output", dir.appendingPathComponent("x").path, "--resume", checkpoint.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--resume"), r.stderr)
    }

    /// `--precision bf16` training: recorded in the checkpoint (trainer_state.json) and the model card,
    /// different weights from fp32 (the bf16 products ran), and a resume continues bit for bit — the
    /// resumed process rounds the checkpoint's weights exactly as the running one refreshed its copies.
    func testBF16TrainingResumesBitForBitAndIsRecorded() throws {
        guard BF16Machine.shouldTest else { throw XCTSkip("--precision bf16 needs oneDNN and AVX512_BF16") }
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        try writePairs(data, count: 24)
        let common = ["train", "--model", CLITests.tinyBert, "--data", data.path, "--batch-size", "4", "--epochs", "2",
                      "--lr", "1e-3", "--mini-batch-size", "3", "--save-steps", "4", "--seed", "5"]
        let full = dir.appendingPathComponent("full"), resumed = dir.appendingPathComponent("resumed"), fp32 = dir.appendingPathComponent("fp32")
        var r = try ember(common + ["--output", full.path, "--precision", "bf16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("bf16 products"), r.stderr)
        let checkpoint = full.appendingPathComponent("checkpoint-4")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: checkpoint.appendingPathComponent("trainer_state.json"))) as! [String: Any]
        XCTAssertEqual((state["configuration"] as? [String: Any])?["precision"] as? String, "bf16")
        let card = try String(contentsOf: full.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("- `bf16`: True"), "the model card names the precision")
        r = try ember(common + ["--output", resumed.path, "--resume", checkpoint.path, "--precision", "bf16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try ember(common + ["--output", fp32.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(try String(contentsOf: fp32.appendingPathComponent("README.md"), encoding: .utf8).contains("`bf16`"))
        let a = try tensors(full.appendingPathComponent("model.safetensors"))
        let b = try tensors(resumed.appendingPathComponent("model.safetensors"))
        let c = try tensors(fp32.appendingPathComponent("model.safetensors"))
        for (name, w) in a { XCTAssertEqual(w, b[name]!, name) }
        XCTAssertNotEqual(a["encoder.layer.0.output.dense.weight"], c["encoder.layer.0.output.dense.weight"], "bf16 training equals fp32's")
    }

    func testSavedFolderLayout() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        try writePairs(data, count: 8)
        let out = dir.appendingPathComponent("out")
        let r = try ember(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", out.path, "--max-steps", "1", "--batch-size", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let modules = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("modules.json"))) as! [[String: Any]]
        XCTAssertEqual(modules.map { $0["type"] as! String }, ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", "sentence_transformers.models.Normalize"])
        XCTAssertEqual(modules.map { $0["path"] as! String }, ["", "1_Pooling", "2_Normalize"])
        let stConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("sentence_bert_config.json"))) as! [String: Any]
        XCTAssertEqual(stConfig["max_seq_length"] as? Int, 16)
        let pooling = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("1_Pooling/config.json"))) as! [String: Any]
        XCTAssertEqual(pooling["pooling_mode_mean_tokens"] as? Bool, true)
        XCTAssertEqual(pooling["word_embedding_dimension"] as? Int, 32)
        for name in ["config.json", "vocab.txt", "tokenizer_config.json", "config_sentence_transformers.json", "metrics.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
        }
        // No temporary folders left beside the output.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
        // The saved folder encodes with ember like any model folder.
        let texts = dir.appendingPathComponent("t.txt")
        try "the cat\n".write(to: texts, atomically: true, encoding: .utf8)
        let e = try ember(["encode", "--model", out.path, "--input", texts.path, "--output", dir.appendingPathComponent("e.jsonl").path])
        XCTAssertEqual(e.status, 0, e.stderr)
    }

    func testGuideCacheFileServesTheNextRun() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        try writePairs(data, count: 12)
        let cache = dir.appendingPathComponent("guide.cache")
        let args = ["train", "--model", CLITests.tinyBert, "--data", data.path, "--loss", "gist", "--guide", CLITests.tinyBert,
                    "--batch-size", "6", "--mini-batch-size", "4", "--guide-cache", cache.path]
        var r = try ember(args + ["--output", dir.appendingPathComponent("a").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("guide cache: 24 texts, 0 hits, 24 misses"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.path))
        r = try ember(args + ["--output", dir.appendingPathComponent("b").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("guide cache: 24 texts, 24 hits, 0 misses"), r.stderr)
        let a = try tensors(dir.appendingPathComponent("a/model.safetensors")), b = try tensors(dir.appendingPathComponent("b/model.safetensors"))
        XCTAssertEqual(a, b, "a cached guide changes nothing")
    }

    func testBadTrainingInputIsAOneLineError() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl")
        try writePairs(data, count: 8)
        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"anchor\": \"c\", \"positive\": 3}\n".write(to: bad, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out").path
        let base = ["train", "--model", CLITests.tinyBert, "--output", out]
        try expectFailure(base + ["--data", bad.path], mentioning: "\(bad.path):2")
        try expectFailure(base + ["--data", data.path, "--loss", "triplet"], mentioning: "--loss")
        try expectFailure(base + ["--data", data.path, "--loss", "gist"], mentioning: "--guide")
        try expectFailure(base + ["--data", data.path, "--batch-size", "0"], mentioning: "--batch-size")
        try expectFailure(base + ["--data", data.path, "--mini-batch-size", "0"], mentioning: "--mini-batch-size")
        try expectFailure(base + ["--data", data.path, "--matryoshka-dims", "64,16"], mentioning: "--matryoshka-dims")
        try expectFailure(base + ["--data", data.path, "--matryoshka-dims", "32,16", "--matryoshka-weights", "1"], mentioning: "--matryoshka-weights")
        try expectFailure(base + ["--data", data.path, "--columns", "anchor,nope"], mentioning: "--columns")
        try expectFailure(base + ["--data", data.path, "--scale", "0"], mentioning: "--scale")
        try expectFailure(base + ["--data", data.path, "--resume", dir.path], mentioning: "--resume")
        // An unrelated, non-empty folder is never replaced by the final save.
        let precious = dir.appendingPathComponent("precious")
        try FileManager.default.createDirectory(at: precious, withIntermediateDirectories: true)
        try "keep me".write(to: precious.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try expectFailure(["train", "--model", CLITests.tinyBert, "--output", precious.path, "--data", data.path], mentioning: "was not written by Ember")
        XCTAssertTrue(FileManager.default.fileExists(atPath: precious.appendingPathComponent("notes.txt").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/model.safetensors").path))
    }
}

/// `ember evaluate` from the outside.
final class EvaluateCLITests: XCTestCase {
    func testRetrievalAndSTSOutputsAndErrors() throws {
        let dir = try temporaryFolder()
        func write(_ name: String, _ lines: [String]) throws -> String {
            let url = dir.appendingPathComponent(name)
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let texts = ["the anchor is positive", "a short text", "negative texts in the anchor", "x y z"]   // tiny-bert words
        let queries = try write("q.jsonl", texts.enumerated().map { "{\"id\": \($0.offset), \"text\": \"\($0.element)\"}" })
        let corpus = try write("c.jsonl", texts.enumerated().map { "{\"id\": \"d\($0.offset)\", \"text\": \"\($0.element)\"}" })
        let qrels = try write("r.jsonl", texts.indices.map { "{\"query_id\": \($0), \"corpus_id\": \"d\($0)\", \"score\": 1}" })
        let out = dir.appendingPathComponent("m.json")
        var r = try ember(["evaluate", "--model", CLITests.tinyBert, "--queries", queries, "--corpus", corpus, "--qrels", qrels,
                           "--truncate-dims", "32,16", "--output", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: [String: Double]]
        XCTAssertEqual(Set(metrics.keys), ["32", "16"])
        // Each query's own text is its one relevant document and ranks first (cosine 1), so every metric
        // has a closed form: accuracy@k = recall@k = mrr = ndcg = map = 1, precision@k = 1/k.
        let ks = [1, 3, 5, 10]
        let expected = Dictionary(uniqueKeysWithValues: ks.flatMap { k in [("accuracy@\(k)", 1.0), ("recall@\(k)", 1.0), ("precision@\(k)", 1.0 / Double(k))] }
                                  + [("mrr@10", 1.0), ("ndcg@10", 1.0), ("map@100", 1.0)])
        for dim in ["32", "16"] {
            XCTAssertEqual(Set(metrics[dim]!.keys), Set(expected.keys), dim)
            for (key, value) in expected { XCTAssertEqual(metrics[dim]![key] ?? .nan, value, accuracy: 1e-9, "\(dim) \(key)") }
        }
        // STS: Pearson and Spearman of the cosines, recomputed here from `ember encode`'s embeddings.
        let stsPairs = [("the anchor", "the anchor", 5.0), ("the anchor", "x y z", 1.0), ("a short text", "a text", 3.0),
                     ("positive texts", "negative texts", 2.0), ("in the short text", "a short text", 4.0)]
        let sts = try write("sts.jsonl", stsPairs.map { "{\"sentence1\": \"\($0.0)\", \"sentence2\": \"\($0.1)\", \"score\": \($0.2)}" })
        r = try ember(["evaluate", "--model", CLITests.tinyBert, "--sts", sts])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stsMetrics = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [String: Double]]
        let sentences = try write("s.txt", stsPairs.flatMap { [$0.0, $0.1] })
        let encoded = dir.appendingPathComponent("s.jsonl")
        r = try ember(["encode", "--model", CLITests.tinyBert, "--input", sentences, "--output", encoded.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let e = try String(contentsOf: encoded, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Double] }
        let cosines = stsPairs.indices.map { i in zip(e[2 * i], e[2 * i + 1]).reduce(0) { $0 + $1.0 * $1.1 } }   // unit vectors
        let gold = stsPairs.map(\.2)
        func pearson(_ x: [Double], _ y: [Double]) -> Double {
            let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
            let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            return sxy / (x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) } * y.reduce(0) { $0 + ($1 - my) * ($1 - my) }).squareRoot()
        }
        func ranks(_ x: [Double]) -> [Double] { x.map { v in Double(x.filter { $0 < v }.count + 1) } }
        XCTAssertEqual(Set(cosines).count, cosines.count, "no tied cosines: Spearman's closed form below needs distinct ranks")
        let d2 = zip(ranks(cosines), ranks(gold)).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let n = Double(stsPairs.count)
        XCTAssertEqual(stsMetrics["32"]?["pearson"] ?? .nan, pearson(cosines, gold), accuracy: 1e-6)
        XCTAssertEqual(stsMetrics["32"]?["spearman"] ?? .nan, 1 - 6 * d2 / (n * (n * n - 1)), accuracy: 1e-9)
        XCTAssertEqual(cosines[0], 1, accuracy: 1e-6)
        // Evaluation during training: one metrics line per evaluation, keyed by dimension.
        let pairs = try write("pairs.jsonl", (0..<8).map { "{\"anchor\": \"the cat \($0)\", \"positive\": \"a dog \($0)\"}" })
        let trained = dir.appendingPathComponent("trained")
        r = try ember(["train", "--model", CLITests.tinyBert, "--data", pairs, "--output", trained.path, "--batch-size", "4",
                       "--matryoshka-dims", "32,8", "--eval-sts", sts, "--eval-steps", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let evals = try String(contentsOf: trained.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }.filter { $0["eval"] != nil }
        XCTAssertEqual(evals.map { $0["step"] as! Int }, [0, 1, 2], "before training, at step 1, at the end")
        XCTAssertEqual(Set((evals[2]["eval"] as! [String: Any]).keys), ["32", "8"])
        // The evaluation at step 0 is of the starting model: the values `ember evaluate` gave for it above.
        let before = evals[0]["eval"] as! [String: [String: Double]]
        XCTAssertEqual(before["32"]?["pearson"] ?? .nan, stsMetrics["32"]?["pearson"] ?? .nan, accuracy: 1e-9)
        // The last evaluation is of the final weights: `ember evaluate` of the saved folder gives its values.
        r = try ember(["evaluate", "--model", trained.path, "--sts", sts, "--truncate-dims", "32,8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let final = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [String: Double]]
        let logged = evals[2]["eval"] as! [String: [String: Double]]
        for dim in ["32", "8"] {
            for key in ["pearson", "spearman"] { XCTAssertEqual(logged[dim]?[key] ?? .nan, final[dim]?[key] ?? .nan, accuracy: 1e-9, "\(dim) \(key)") }
        }
        XCTAssertNotEqual(logged["32"]?["pearson"], stsMetrics["32"]?["pearson"], "training changed the model's STS score")
        try expectFailure(["train", "--model", CLITests.tinyBert, "--data", pairs, "--output", dir.appendingPathComponent("x").path,
                           "--eval-queries", queries], mentioning: "--eval-qrels")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path), "no output folder after a bad flag")
        try expectFailure(["evaluate", "--model", CLITests.tinyBert, "--queries", queries], mentioning: "--qrels")
        try expectFailure(["evaluate", "--model", CLITests.tinyBert, "--sts", sts, "--truncate-dims", "64"], mentioning: "--truncate-dims")
        let badQrels = try write("bad.jsonl", ["{\"query_id\": 0}"])
        try expectFailure(["evaluate", "--model", CLITests.tinyBert, "--queries", queries, "--corpus", corpus, "--qrels", badQrels],
                          mentioning: "\(badQrels):1")
    }
}

/// `ember evaluate` against sentence-transformers' evaluators (parity/check_evaluator.py wrote the
/// reference results for the tiny BERT into Tests/Fixtures/evaluate_check.json).
final class EvaluateParityTests: XCTestCase {
    func testMatchesSentenceTransformersEvaluators() throws {
        let fixtureURL = CLITests.repoRoot.appendingPathComponent("Tests/Fixtures/evaluate_check.json")
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as! [String: Any]
        let dir = try temporaryFolder()
        func write(_ name: String, _ key: String) throws -> String {
            let rows = fixture[key] as! [[String: Any]]
            let lines = try rows.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            let url = dir.appendingPathComponent(name)
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let expected = fixture["expected"] as! [String: [String: [String: Double]]]
        var r = try ember(["evaluate", "--model", CLITests.tinyBert, "--queries", try write("q.jsonl", "queries"),
                           "--corpus", try write("c.jsonl", "corpus"), "--qrels", try write("r.jsonl", "qrels"), "--truncate-dims", "32,16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var ours = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [String: Double]]
        for (dim, metrics) in expected["retrieval"]! {
            XCTAssertEqual(Set(ours[dim]!.keys), Set(metrics.keys), dim)
            for (name, value) in metrics { XCTAssertEqual(ours[dim]![name]!, value, accuracy: 1e-6, "retrieval \(dim) \(name)") }
        }
        r = try ember(["evaluate", "--model", CLITests.tinyBert, "--sts", try write("sts.jsonl", "sts"), "--truncate-dims", "32,16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        ours = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [String: Double]]
        for (dim, metrics) in expected["sts"]! {
            for (name, value) in metrics { XCTAssertEqual(ours[dim]![name]!, value, accuracy: 1e-6, "sts \(dim) \(name)") }
        }
    }
}
