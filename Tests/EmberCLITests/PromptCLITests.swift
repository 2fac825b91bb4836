import Foundation
import XCTest

/// Prompts on the command line: each must change the embeddings exactly as prepending the text by hand.
final class PromptCLITests: XCTestCase {
    let prompt = "a short text: "
    let texts = ["the cat is in the text", "anchor and positive", "negative"]

    /// A writable tiny-bert copy with `config` as its config_sentence_transformers.json.
    func promptedModel(_ dir: URL, config: String, includePrompt: Bool = true) throws -> String {
        let url = dir.appendingPathComponent("model-\(UUID().uuidString.prefix(8))")
        let fm = FileManager.default
        try fm.createDirectory(at: url.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors", "modules.json", "sentence_bert_config.json", "tokenizer_config.json", "vocab.txt"] {
            try fm.copyItem(atPath: CLITests.tinyBert + "/" + name, toPath: url.appendingPathComponent(name).path)
        }
        try Data(config.utf8).write(to: url.appendingPathComponent("config_sentence_transformers.json"))
        try Data(#"{"word_embedding_dimension": 32, "pooling_mode_mean_tokens": true, "include_prompt": \#(includePrompt)}"#.utf8)
            .write(to: url.appendingPathComponent("1_Pooling/config.json"))
        return url.path
    }

    func lines(_ dir: URL, _ name: String, _ texts: [String]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try texts.joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Runs `ember encode` into a fresh .jsonl and returns its text.
    func encode(_ dir: URL, model: String, input: String, _ extra: [String] = []) throws -> String {
        let out = dir.appendingPathComponent("out-\(UUID().uuidString.prefix(8)).jsonl")
        let r = try ember(["encode", "--model", model, "--input", input, "--output", out.path] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try String(contentsOf: out, encoding: .utf8)
    }

    func testEncodePromptIsPrependingByHand() throws {
        let dir = try temporaryFolder()
        let plain = try lines(dir, "plain.txt", texts), byHand = try lines(dir, "hand.txt", texts.map { prompt + $0 })
        let prompted = try encode(dir, model: CLITests.tinyBert, input: plain, ["--prompt", prompt])
        XCTAssertEqual(prompted, try encode(dir, model: CLITests.tinyBert, input: byHand))
        XCTAssertNotEqual(prompted, try encode(dir, model: CLITests.tinyBert, input: plain))
    }

    func testEncodePromptNameAndDefaultPromptName() throws {
        let dir = try temporaryFolder()
        let plain = try lines(dir, "plain.txt", texts), byHand = try lines(dir, "hand.txt", texts.map { prompt + $0 })
        let expected = try encode(dir, model: CLITests.tinyBert, input: byHand)
        let unprompted = try encode(dir, model: CLITests.tinyBert, input: plain)
        let named = try promptedModel(dir, config: #"{"prompts": {"query": "\#(prompt)", "document": ""}, "default_prompt_name": null}"#)
        XCTAssertEqual(try encode(dir, model: named, input: plain, ["--prompt-name", "query"]), expected)
        XCTAssertEqual(try encode(dir, model: named, input: plain), unprompted, "no default prompt name: no prompt")
        // As the reference's encode: the folder's default_prompt_name applies when no prompt is given.
        let defaulted = try promptedModel(dir, config: #"{"prompts": {"query": "\#(prompt)", "document": ""}, "default_prompt_name": "query"}"#)
        XCTAssertEqual(try encode(dir, model: defaulted, input: plain), expected)
        XCTAssertEqual(try encode(dir, model: defaulted, input: plain, ["--prompt-name", "document"]), unprompted)
        XCTAssertEqual(try encode(dir, model: defaulted, input: plain, ["--prompt", ""]), unprompted)
        let out = dir.appendingPathComponent("bad.jsonl").path
        try expectFailure(["encode", "--model", named, "--input", plain, "--output", out, "--prompt-name", "passage"],
                          mentioning: "--prompt-name 'passage'")
        try expectFailure(["encode", "--model", named, "--input", plain, "--output", out, "--prompt", "x", "--prompt-name", "query"],
                          mentioning: "--prompt and --prompt-name")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// include_prompt false: the prompt reaches the encoder (attention sees it) but is not pooled, so the
    /// result is neither the unprompted nor the prepended-and-pooled embedding (exact values: PromptTests).
    func testEncodeWithIncludePromptFalse() throws {
        let dir = try temporaryFolder()
        let plain = try lines(dir, "plain.txt", texts), byHand = try lines(dir, "hand.txt", texts.map { prompt + $0 })
        let excluding = try promptedModel(dir, config: "{}", includePrompt: false)
        let prompted = try encode(dir, model: excluding, input: plain, ["--prompt", prompt])
        XCTAssertNotEqual(prompted, try encode(dir, model: excluding, input: byHand))
        XCTAssertNotEqual(prompted, try encode(dir, model: excluding, input: plain))
    }

    /// Writes {"id", "text"} lines.
    func records(_ dir: URL, _ name: String, _ texts: [String]) throws -> String {
        let url = dir.appendingPathComponent(name)
        let lines = texts.enumerated().map { i, t in
            String(decoding: try! JSONSerialization.data(withJSONObject: ["id": "\(name.prefix(1))\(i)", "text": t]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func evaluate(_ arguments: [String]) throws -> String {
        let r = try ember(["evaluate", "--model", CLITests.tinyBert, "--truncate-dims", "32,8"] + arguments)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    /// The reference InformationRetrievalEvaluator's query_prompt/corpus_prompt: metrics equal those of
    /// the same files with the prompts prepended by hand, each to its own side.
    func testEvaluateRetrievalPrompts() throws {
        let dir = try temporaryFolder()
        let queries = ["the cat", "a short text", "anchor", "negative and positive"]
        let corpus = ["the cat is in the text", "a short text of a dog", "anchor and positive", "negative text", "the positive", "in and to"]
        let (qp, cp) = ("a short text: ", "the text: ")
        let qrels = dir.appendingPathComponent("q.jsonl").path
        try (0..<4).map { #"{"query_id": "q\#($0)", "corpus_id": "c\#($0)", "score": 1}"# }.joined(separator: "\n")
            .write(toFile: qrels, atomically: true, encoding: .utf8)
        func files(_ q: [String], _ c: [String]) throws -> [String] {
            let sub = dir.appendingPathComponent(UUID().uuidString)
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            return ["--queries", try records(sub, "q.jsonl", q), "--corpus", try records(sub, "c.jsonl", c), "--qrels", qrels]
        }
        let plain = try files(queries, corpus)
        let both = try evaluate(plain + ["--query-prompt", qp, "--corpus-prompt", cp])
        XCTAssertEqual(both, try evaluate(try files(queries.map { qp + $0 }, corpus.map { cp + $0 })))
        let queryOnly = try evaluate(plain + ["--query-prompt", qp])
        XCTAssertEqual(queryOnly, try evaluate(try files(queries.map { qp + $0 }, corpus)))
        XCTAssertNotEqual(both, queryOnly)
        try expectFailure(["evaluate", "--model", CLITests.tinyBert] + plain + ["--prompt", qp], mentioning: "--prompt is for --sts")
    }

    func testEvaluateStsPrompt() throws {
        let dir = try temporaryFolder()
        let pairs = [("the cat", "a cat", 0.9), ("anchor", "negative text", 0.1), ("a short text", "short text", 0.8), ("in the", "and of", 0.3)]
        func sts(_ p: String) throws -> String {
            let url = dir.appendingPathComponent(UUID().uuidString + ".jsonl")
            let lines = pairs.map { a, b, s in
                String(decoding: try! JSONSerialization.data(withJSONObject: ["sentence1": p + a, "sentence2": p + b, "score": s]), as: UTF8.self)
            }
            try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let plain = try sts("")
        let prompted = try evaluate(["--sts", plain, "--prompt", prompt])
        XCTAssertEqual(prompted, try evaluate(["--sts", try sts(prompt)]))
        XCTAssertNotEqual(prompted, try evaluate(["--sts", plain]))
        try expectFailure(["evaluate", "--model", CLITests.tinyBert, "--sts", plain, "--query-prompt", prompt], mentioning: "--query-prompt/--corpus-prompt are for retrieval")
    }

    /// `ember train --prompts`: the trained weights equal those of training on hand-prompted data, and the
    /// prompts are saved per column in config_sentence_transformers.json (the reference's key).
    func testTrainPromptsArePrependedPerColumnAndSaved() throws {
        let dir = try temporaryFolder()
        let pairs = [("the cat", "a cat is in the text"), ("anchor", "positive text"), ("a short text", "short texts"),
                     ("in the", "and of the"), ("negative", "a negative text"), ("to the cat", "the cat to")]
        let (ap, pp) = ("a short text: ", "the text: ")
        func data(_ a: String, _ p: String) throws -> String {
            let url = dir.appendingPathComponent(UUID().uuidString + ".jsonl")
            let lines = pairs.map { x, y in String(decoding: try! JSONSerialization.data(withJSONObject: ["anchor": a + x, "positive": p + y], options: .sortedKeys), as: UTF8.self) }
            try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        func train(_ data: String, _ extra: [String] = [], model: String = CLITests.tinyBert) throws -> URL {
            let out = dir.appendingPathComponent("run-" + UUID().uuidString.prefix(8))
            let r = try ember(["train", "--model", model, "--data", data, "--output", out.path, "--batch-size", "3",
                               "--max-steps", "2", "--lr", "1e-3", "--seed", "3"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return out
        }
        func weights(_ run: URL) throws -> Data { try Data(contentsOf: run.appendingPathComponent("model.safetensors")) }
        func savedPrompts(_ run: URL) throws -> [String: String]? {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config_sentence_transformers.json"))) as? [String: Any]
            return object?["prompts"] as? [String: String]
        }
        let plain = try data("", "")
        let prompted = try train(plain, ["--prompts", #"{"anchor": "\#(ap)", "positive": "\#(pp)"}"#])
        let byHand = try train(try data(ap, pp))
        XCTAssertEqual(try weights(prompted), try weights(byHand))
        XCTAssertNotEqual(try weights(prompted), try weights(try train(plain)))
        XCTAssertEqual(try savedPrompts(prompted), ["anchor": ap, "positive": pp])
        XCTAssertEqual(try savedPrompts(byHand), [:])
        // The model card names them: details, the trainer argument, and the snippet's prompt_name.
        let card = try String(contentsOf: prompted.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains(#"- **Training prompts:** `"\#(ap)"` before `anchor`, `"\#(pp)"` before `positive`"#), card)
        XCTAssertTrue(card.contains(#"- `prompts`: {"anchor": "\#(ap)", "positive": "\#(pp)"}"#), card)
        XCTAssertTrue(card.contains(#"    "the cat","#) && card.contains(#"model.encode(sentences, prompt_name="anchor")"#), card)
        XCTAssertTrue(card.contains("--prompt-name anchor"), card)
        let plainCard = try String(contentsOf: byHand.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(plainCard.contains("- `prompts`: None") && !plainCard.contains("Training prompts"), plainCard)
        // One prompt for every column, unquoted or as a JSON string.
        let everywhere = try train(plain, ["--prompts", ap])
        XCTAssertEqual(try weights(everywhere), try weights(try train(try data(ap, ap))))
        XCTAssertEqual(try savedPrompts(everywhere), ["anchor": ap, "positive": ap])
        XCTAssertEqual(try weights(try train(plain, ["--prompts", "\"\(ap)\""])), try weights(everywhere))
        // The saved folder embeds with --prompt-name COLUMN exactly as with the prompt itself.
        let texts = try lines(dir, "t.txt", ["the cat", "a short text"])
        XCTAssertEqual(try encode(dir, model: prompted.path, input: texts, ["--prompt-name", "anchor"]),
                       try encode(dir, model: prompted.path, input: texts, ["--prompt", ap]))

        let out = dir.appendingPathComponent("bad").path
        let base = ["train", "--model", CLITests.tinyBert, "--data", plain, "--output", out, "--max-steps", "1"]
        try expectFailure(base + ["--prompts", #"{"question": "q: "}"#], mentioning: "--prompts: 'question' is not a training column")
        try expectFailure(base + ["--prompts", #"{"anchor": 3}"#], mentioning: "--prompts: not a JSON object")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // include_prompt false: the prompt's tokens leave pooling in training too, so the weights differ
        // from training the same folder with include_prompt true; GradCache replays the same masking.
        let excluding = try promptedModel(dir, config: "{}", includePrompt: false)
        let including = try promptedModel(dir, config: "{}", includePrompt: true)
        let masked = try train(plain, ["--prompts", ap], model: excluding)
        XCTAssertNotEqual(try weights(masked), try weights(try train(plain, ["--prompts", ap], model: including)))
        XCTAssertNotEqual(try weights(masked), try weights(try train(plain, model: excluding)))
        // GradCache (mini-batches of 1) masks in stage 1 and in the replay alike: the same weights as plain
        // training up to rounding, far closer than to the include_prompt true run.
        func floats(_ run: URL) throws -> [Float] {
            let d = try weights(run)
            let header = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            return d[(8 + header)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }
        let cached = try floats(try train(plain, ["--prompts", ap, "--mini-batch-size", "1"], model: excluding))
        let plainMasked = try floats(masked), unmasked = try floats(try train(plain, ["--prompts", ap], model: including))
        XCTAssertEqual(cached.count, plainMasked.count)
        XCTAssertLessThan(maxDiff(cached, plainMasked), 1e-5)
        XCTAssertGreaterThan(maxDiff(plainMasked, unmasked), 1e-4)
        let cls = URL(fileURLWithPath: excluding).deletingLastPathComponent().appendingPathComponent("cls")
        try FileManager.default.copyItem(atPath: excluding, toPath: cls.path)
        try Data(#"{"embedding_dimension": 32, "pooling_mode": "cls", "include_prompt": false}"#.utf8).write(to: cls.appendingPathComponent("1_Pooling/config.json"))
        try expectFailure(["train", "--model", cls.path, "--data", plain, "--output", out, "--max-steps", "1", "--prompts", ap],
                          mentioning: "cls pooling with include_prompt false")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// `ember mine` on an include_prompt false folder: a positive's score is the cosine of the anchor and the
    /// positive as `ember encode --prompt` embeds them; a pooling that cannot mask a prompt is refused first.
    func testMineWithIncludePromptFalse() throws {
        let dir = try temporaryFolder()
        let pairs = [("the cat", "a cat is in the text"), ("anchor", "positive text"), ("a short text", "short texts"), ("in the", "and of the")]
        let data = dir.appendingPathComponent("pairs.jsonl")
        try pairs.map { #"{"anchor": "\#($0.0)", "positive": "\#($0.1)"}"# }.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let model = try promptedModel(dir, config: "{}", includePrompt: false)
        let (qp, cp) = ("a short text: ", "the text: ")
        let out = dir.appendingPathComponent("mined.jsonl")
        let r = try ember(["mine", "--model", model, "--data", data.path, "--output", out.path, "--output-format", "n-tuple",
                           "--output-scores", "--num-negatives", "1", "--query-prompt", qp, "--corpus-prompt", cp])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertFalse(rows.isEmpty)
        func vectors(_ texts: [String], _ p: String) throws -> [[Double]] {
            try encode(dir, model: model, input: try lines(dir, UUID().uuidString + ".txt", texts), ["--prompt", p])
                .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Double] }
        }
        let anchors = try vectors(rows.map { $0["anchor"] as! String }, qp), positives = try vectors(rows.map { $0["positive"] as! String }, cp)
        for (i, row) in rows.enumerated() {
            let cosine = zip(anchors[i], positives[i]).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual((row["scores"] as! [Double])[0], cosine, accuracy: 1e-5, "row \(i)")
        }
        let cls = dir.appendingPathComponent("cls")
        try FileManager.default.copyItem(atPath: model, toPath: cls.path)
        try Data(#"{"embedding_dimension": 32, "pooling_mode": "cls", "include_prompt": false}"#.utf8).write(to: cls.appendingPathComponent("1_Pooling/config.json"))
        let refused = dir.appendingPathComponent("refused.jsonl")
        try expectFailure(["mine", "--model", cls.path, "--data", data.path, "--output", refused.path, "--query-prompt", qp],
                          mentioning: "cls pooling with include_prompt false")
        XCTAssertFalse(FileManager.default.fileExists(atPath: refused.path))
    }

    /// `ember train --eval-prompt` (STS) / `--eval-query-prompt`/`--eval-corpus-prompt`: the evaluation before
    /// training equals `ember evaluate` of the starting model with the same prompt.
    func testTrainEvaluationPrompts() throws {
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl"), sts = dir.appendingPathComponent("sts.jsonl")
        try [("the cat", "a cat"), ("anchor", "positive"), ("a short text", "short texts"), ("in the", "and of")]
            .map { #"{"anchor": "\#($0.0)", "positive": "\#($0.1)"}"# }.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        try [("the cat", "a cat", 0.9), ("anchor", "negative text", 0.1), ("a short text", "short text", 0.8), ("in the", "and of", 0.3)]
            .map { #"{"sentence1": "\#($0.0)", "sentence2": "\#($0.1)", "score": \#($0.2)}"# }.joined(separator: "\n")
            .write(to: sts, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        let r = try ember(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", out.path, "--max-steps", "1",
                           "--batch-size", "2", "--eval-sts", sts.path, "--eval-prompt", prompt])
        XCTAssertEqual(r.status, 0, r.stderr)
        let first = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }.first { $0["eval"] != nil }
        let logged = try XCTUnwrap(first?["eval"] as? [String: [String: Double]])
        func evaluated(_ extra: [String]) throws -> [String: [String: Double]] {
            let e = try ember(["evaluate", "--model", CLITests.tinyBert, "--sts", sts.path] + extra)
            XCTAssertEqual(e.status, 0, e.stderr)
            return try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: [String: Double]]
        }
        XCTAssertEqual(logged, try evaluated(["--prompt", prompt]))
        XCTAssertNotEqual(logged, try evaluated([]))
        try expectFailure(["train", "--model", CLITests.tinyBert, "--data", data.path, "--output", dir.appendingPathComponent("x").path,
                           "--eval-sts", sts.path, "--eval-query-prompt", prompt], mentioning: "--eval-query-prompt/--eval-corpus-prompt are for retrieval")
    }
}
