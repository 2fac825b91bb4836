import EmberTestSupport
import Foundation
import XCTest

/// The bad-input catalogue: every case runs the real `ember` in a sandbox folder and must end with a
/// non-zero exit, exactly one `error:` line on stderr naming the file, line or flag, and not one file or
/// folder of the sandbox created, changed or removed (a tree snapshot before and after).
final class BadInputCatalogueTests: XCTestCase {
    struct Case {
        let name: String
        let arguments: [String]
        let fragment: String
        var stdoutToDevFull = false
    }

    func testCatalogue() throws {
        let box = try CatalogueSandbox.make(in: try temporaryFolder())
        let cases = box.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 60)
        for c in cases {
            let before = try box.snapshot()
            let result = try box.run(c.arguments, stdoutToDevFull: c.stdoutToDevFull)
            // One error line, last; before it at most the run's announcement ("training … on N rows"),
            // never a warning or a stack trace.
            let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
            XCTAssertNotEqual(result.status, 0, "[\(c.name)] should fail: \(c.arguments)")
            XCTAssertEqual(lines.filter { $0.hasPrefix("error: ") }.count, 1, "[\(c.name)] one error line, got: \(result.stderr)")
            XCTAssertTrue(lines.last?.hasPrefix("error: ") ?? false, "[\(c.name)] \(result.stderr)")
            XCTAssertTrue(lines.dropLast().allSatisfy { $0.hasPrefix("training ") }, "[\(c.name)] unexpected lines: \(result.stderr)")
            XCTAssertTrue(lines.last?.contains(c.fragment) ?? false, "[\(c.name)] expected '\(c.fragment)' in: \(result.stderr)")
            let after = try box.snapshot()
            if after != before {
                let changed = Set(before.keys).symmetricDifference(after.keys).union(before.keys.filter { after[$0] != nil && after[$0] != before[$0] })
                XCTFail("[\(c.name)] the sandbox changed: \(changed.sorted())")
            }
        }
    }
}

/// A folder of inputs, good and damaged, and the catalogue's cases over it.
struct CatalogueSandbox {
    let root: URL
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    static func make(in root: URL) throws -> CatalogueSandbox {
        let box = CatalogueSandbox(root: root)
        try box.populate()
        return box
    }

    func write(_ name: String, _ text: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// A writable copy of tiny-bert at `name`, then `edit` applied to it.
    func model(_ name: String, _ edit: (URL) throws -> Void = { _ in }) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: CLITests.tinyBert), to: url)
        try makeWritable(url)
        try edit(url)
    }

    func makeWritable(_ url: URL) throws {
        let fm = FileManager.default
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        for name in fm.subpaths(atPath: url.path) ?? [] {
            var isDirectory: ObjCBool = false
            let path = url.appendingPathComponent(name).path
            _ = fm.fileExists(atPath: path, isDirectory: &isDirectory)
            try fm.setAttributes([.posixPermissions: isDirectory.boolValue ? 0o755 : 0o644], ofItemAtPath: path)
        }
    }

    /// Rewrites a JSON file of a model copy through `change`.
    func editJSON(_ url: URL, _ change: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    /// Overwrites the first float of tensor `name` in a model copy's model.safetensors with `value`.
    func poison(_ folder: URL, tensor name: String, with value: Float) throws {
        let url = folder.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as! [String: Any]
        let begin = ((header[name] as! [String: Any])["data_offsets"] as! [Int])[0]
        withUnsafeBytes(of: value.bitPattern.littleEndian) { raw in
            for i in 0..<4 { bytes[8 + headerLength + begin + i] = raw[i] }
        }
        try Data(bytes).write(to: url)
    }

    func populate() throws {
        let fm = FileManager.default
        try write("pairs.jsonl", "{\"anchor\": \"the cat\", \"positive\": \"a dog\"}\n{\"anchor\": \"hello\", \"positive\": \"world\"}\n{\"anchor\": \"a b c\", \"positive\": \"d e\"}\n")
        try write("texts.txt", "the cat\nhello world\n")
        try write("texts.jsonl", "{\"text\": \"the cat\"}\n")
        try write("data/pairs.jsonl", "{\"anchor\": \"a\", \"positive\": \"b\"}\n")
        try write("queries.jsonl", "{\"id\": \"q1\", \"text\": \"the cat\"}\n{\"id\": \"q2\", \"text\": \"hello\"}\n")
        try write("corpus.jsonl", "{\"id\": \"d1\", \"text\": \"a dog\"}\n{\"id\": \"d2\", \"text\": \"world\"}\n")
        try write("qrels.jsonl", "{\"query_id\": \"q1\", \"corpus_id\": \"d1\", \"score\": 1}\n{\"query_id\": \"q2\", \"corpus_id\": \"d2\", \"score\": 1}\n")
        try write("sts.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 1}\n{\"sentence1\": \"c\", \"sentence2\": \"d\", \"score\": 0.5}\n")
        // Someone's project folder, named like a model's; an earlier Ember run; a plain file.
        try write("project/config.json", "{\"mine\": true}\n")
        try write("project/notes.txt", "my notes\n")
        try write("modelish/modules.json", "[]\n")
        try write("modelish/model.safetensors", "not really\n")
        try write("metricsonly/metrics.jsonl", "{\"step\": 1}\n")
        try fm.createDirectory(at: root.appendingPathComponent("checkpointish/checkpoint-3"), withIntermediateDirectories: true)
        try write("checkpointish/checkpoint-3/keep.txt", "mine\n")
        try write("earlier-run/ember_run.json", "{\"tool\": \"ember\", \"started\": \"2026-01-01T00:00:00Z\"}\n")
        try write("earlier-run/metrics.jsonl", "{\"step\": 1, \"loss\": 1}\n")
        try write("a-file", "just a file\n")
        try write("foreign.npy", "my own notes, not numpy\n")
        try write("foreign.json", "{\"mine\": true}\n")
        try write("foreign-log.jsonl", "{\"event\": \"mine\"}\n")
        try model("data/model")
        try fm.createSymbolicLink(at: root.appendingPathComponent("model-link"), withDestinationURL: root.appendingPathComponent("data/model"))

        // Damaged models, one fault each.
        try model("m-bigvocab") { url in
            let vocab = try String(contentsOf: url.appendingPathComponent("vocab.txt"), encoding: .utf8)
            try Data((vocab + (0..<20).map { "extra\($0)\n" }.joined()).utf8).write(to: url.appendingPathComponent("vocab.txt"))
        }
        try model("m-vocabsize") { try editJSON($0.appendingPathComponent("config.json")) { $0["vocab_size"] = 40 } }
        try model("m-nan") { try poison($0, tensor: "embeddings.LayerNorm.weight", with: .nan) }
        try model("m-inf") { try poison($0, tensor: "encoder.layer.1.output.dense.weight", with: .infinity) }
        try model("m-seqlen0") { try editJSON($0.appendingPathComponent("sentence_bert_config.json")) { $0["max_seq_length"] = 0 } }
        try model("m-seqlenneg") { try editJSON($0.appendingPathComponent("sentence_bert_config.json")) { $0["max_seq_length"] = -5 } }
        try model("m-seqlenstr") { try editJSON($0.appendingPathComponent("sentence_bert_config.json")) { $0["max_seq_length"] = "long" } }
        try model("m-seqlenbig") { try editJSON($0.appendingPathComponent("sentence_bert_config.json")) { $0["max_seq_length"] = 100_000 } }
        try model("m-lowercase") { try editJSON($0.appendingPathComponent("sentence_bert_config.json")) { $0["do_lower_case"] = "yes" } }
        try model("m-task") { try editJSON($0.appendingPathComponent("sentence_bert_config.json")) { $0["transformer_task"] = "fill-mask" } }
        try model("m-poolmode") { try Data(#"{"embedding_dimension": 32, "pooling_mode": "attention"}"#.utf8).write(to: $0.appendingPathComponent("1_Pooling/config.json")) }
        try model("m-pooldim") { try Data(#"{"embedding_dimension": "wide", "pooling_mode": "mean"}"#.utf8).write(to: $0.appendingPathComponent("1_Pooling/config.json")) }
        try model("m-poolnodim") { try Data(#"{"pooling_mode": "cls"}"#.utf8).write(to: $0.appendingPathComponent("1_Pooling/config.json")) }
        try model("m-poolprompt") { try Data(#"{"embedding_dimension": 32, "pooling_mode": "mean", "include_prompt": "no"}"#.utf8).write(to: $0.appendingPathComponent("1_Pooling/config.json")) }
        try model("m-poolwrongdim") { try Data(#"{"embedding_dimension": 16, "pooling_mode": "mean"}"#.utf8).write(to: $0.appendingPathComponent("1_Pooling/config.json")) }
        try model("m-dense") { url in
            var modules = try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("modules.json"))) as! [[String: Any]]
            modules.append(["idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"])
            try JSONSerialization.data(withJSONObject: modules).write(to: url.appendingPathComponent("modules.json"))
        }
        try model("m-relu") { try editJSON($0.appendingPathComponent("config.json")) { $0["hidden_act"] = "relu" } }
        try model("m-eps") { try editJSON($0.appendingPathComponent("config.json")) { $0["layer_norm_eps"] = "tiny" } }
        try model("m-heads") { try editJSON($0.appendingPathComponent("config.json")) { $0["num_attention_heads"] = 5 } }
        try model("m-truncated") { url in
            let data = try Data(contentsOf: url.appendingPathComponent("model.safetensors"))
            try data.prefix(data.count / 2).write(to: url.appendingPathComponent("model.safetensors"))
        }

        // Damaged data files.
        try write("ragged.csv", "anchor,positive\na,b\nc,d,e\n")
        try write("unterminated.csv", "anchor,positive\n\"a,b\n")
        try write("number.jsonl", "{\"anchor\": \"a\", \"positive\": 3}\n")
        try write("onecolumn.jsonl", "{\"anchor\": \"a\"}\n")
        try write("notjson.jsonl", "{\"anchor\": \"a\", \"positive\": \"b\"}\n{anchor: a}\n")
        try Data("{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"anchor\": \"".utf8 + [0xff, 0xfe] + Data("\", \"positive\": \"c\"}\n".utf8)).write(to: root.appendingPathComponent("latin1.jsonl"))
        try write("texts.pdf", "%PDF-1.4\n")
        try write("qrels-high.jsonl", "{\"query_id\": \"q1\", \"corpus_id\": \"d1\", \"score\": \"high\"}\n")
        try write("qrels-bool.jsonl", "{\"query_id\": \"q1\", \"corpus_id\": \"d1\", \"score\": true}\n")
        try write("qrels-none.jsonl", "{\"query_id\": \"q1\", \"corpus_id\": \"d1\", \"score\": 0}\n")
        try write("corpus-dup.jsonl", "{\"id\": \"d1\", \"text\": \"a dog\"}\n{\"id\": \"d1\", \"text\": \"world\"}\n")
        try write("queries-dup.jsonl", "{\"id\": \"q1\", \"text\": \"a\"}\n{\"id\": \"q1\", \"text\": \"b\"}\n")
        try write("sts-x.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": \"x\"}\n{\"sentence1\": \"c\", \"sentence2\": \"d\", \"score\": 1}\n")
        try write("empty.jsonl", "")

        // A real checkpoint, for resume cases.
        let trained = try runEmber(["train", "--model", path("data/model"), "--data", path("pairs.jsonl"), "--output", path("run"),
                                    "--max-steps", "2", "--save-steps", "1", "--batch-size", "2", "--scale", "20",
                                    "--matryoshka-dims", "32,16"])
        guard trained.status == 0 else { throw NSError(domain: "catalogue setup", code: 1, userInfo: [NSLocalizedDescriptionKey: trained.stderr]) }
    }

    func cases() -> [BadInputCatalogueTests.Case] {
        typealias C = BadInputCatalogueTests.Case
        let m = path("data/model"), pairs = path("pairs.jsonl"), texts = path("texts.txt")
        func train(_ extra: [String], output: String? = nil, model: String? = nil, data: String? = nil) -> [String] {
            ["train", "--model", model ?? m, "--data", data ?? pairs, "--output", output ?? path("new-run"), "--max-steps", "1"] + extra
        }
        func encode(_ model: String, input: String? = nil, output: String? = nil, _ extra: [String] = []) -> [String] {
            ["encode", "--model", model, "--input", input ?? texts, "--output", output ?? path("out.npy")] + extra
        }
        func evaluate(queries: String? = nil, corpus: String? = nil, qrels: String? = nil, _ extra: [String] = []) -> [String] {
            ["evaluate", "--model", m, "--queries", queries ?? path("queries.jsonl"), "--corpus", corpus ?? path("corpus.jsonl"),
             "--qrels", qrels ?? path("qrels.jsonl")] + extra
        }
        func mine(_ extra: [String], output: String? = nil, model: String? = nil, data: String? = nil) -> [String] {
            ["mine", "--model", model ?? m, "--data", data ?? pairs, "--output", output ?? path("mined.jsonl")] + extra
        }
        let resume = ["--resume", path("run/checkpoint-1"), "--batch-size", "2", "--max-steps", "2", "--save-steps", "1"]
        func resumeRun(_ extra: [String]) -> [String] {
            ["train", "--model", m, "--data", pairs, "--output", path("run")] + resume + extra
        }
        return [
            // 1. Output folders that are not Ember's, or are inputs.
            C(name: "project folder", arguments: train([], output: path("project")), fragment: "was not written by Ember (it holds config.json, notes.txt)"),
            C(name: "project folder --overwrite", arguments: train(["--overwrite"], output: path("project")), fragment: "even with --overwrite"),
            C(name: "project/.", arguments: train([], output: path("project") + "/."), fragment: "was not written by Ember"),
            C(name: "modules.json + weights", arguments: train([], output: path("modelish")), fragment: "was not written by Ember"),
            C(name: "metrics only", arguments: train([], output: path("metricsonly")), fragment: "was not written by Ember"),
            C(name: "checkpoint-*", arguments: train(["--overwrite"], output: path("checkpointish")), fragment: "was not written by Ember"),
            C(name: "output .", arguments: train([], output: "."), fragment: "is the current folder"),
            C(name: "output = model", arguments: train([], output: m), fragment: "is the --model input itself"),
            C(name: "output = model via symlink", arguments: train([], output: path("model-link")), fragment: "is the --model input itself"),
            C(name: "output = parent of model", arguments: train([], output: path("data")), fragment: "holds the --model input"),
            C(name: "output = parent of data", arguments: train([], output: root.path, data: pairs), fragment: "is the current folder"),
            C(name: "output = parent of data (not cwd)", arguments: train([], output: path("data"), model: CLITests.tinyBert, data: path("data/pairs.jsonl")), fragment: "holds the --data input"),
            C(name: "output = guide", arguments: train(["--loss", "gist", "--guide", path("data/model")], output: path("data/model"), model: CLITests.tinyBert), fragment: "is the --guide input itself"),
            C(name: "output is a file", arguments: train([], output: path("a-file")), fragment: "exists and is not a folder"),
            C(name: "earlier run, no --overwrite", arguments: train([], output: path("earlier-run")), fragment: "holds an earlier Ember run (started 2026-01-01T00:00:00Z); pass --overwrite"),
            C(name: "log = data", arguments: train(["--log", pairs]), fragment: "--log \(pairs): is the --data input"),
            C(name: "log = someone's file", arguments: train(["--log", path("foreign-log.jsonl")]), fragment: "exists and is not a metrics log Ember wrote"),
            C(name: "encode output = input", arguments: encode(m, input: path("texts.jsonl"), output: path("texts.jsonl")), fragment: "is the --input input"),
            C(name: "encode output = someone's file", arguments: encode(m, output: path("foreign.npy")), fragment: "exists and is not an embeddings file Ember wrote"),
            C(name: "evaluate output = qrels", arguments: evaluate(["--output", path("qrels.jsonl")]), fragment: "is the --qrels input"),
            C(name: "evaluate output = someone's json", arguments: evaluate(["--output", path("foreign.json")]), fragment: "exists and is not a metrics file Ember wrote"),
            C(name: "encode output in a missing folder", arguments: encode(m, output: path("missing/e.npy")), fragment: "--output \(path("missing/e.npy")): cannot be written (No such file or directory)"),
            C(name: "evaluate output in a missing folder", arguments: evaluate(["--output", path("missing/m.json")]), fragment: "cannot be written"),
            C(name: "output under a missing root", arguments: train([], output: "/proc/ember-cannot/run"), fragment: "--output /proc/ember-cannot/run"),
            C(name: "guide cache unwritable", arguments: train(["--loss", "gist", "--guide", m, "--guide-cache", "/nonexistent-dir/cache.bin"]), fragment: "--guide-cache /nonexistent-dir/cache.bin: cannot be written"),
            C(name: "guide cache is someone's file", arguments: train(["--loss", "gist", "--guide", m, "--guide-cache", path("a-file")]), fragment: "not a valid guide cache"),
            // 2. Token ids beyond the embedding matrix.
            C(name: "vocab larger than embeddings", arguments: encode(path("m-bigvocab")), fragment: "the tokenizer has 65 tokens but the word embeddings have 45 rows"),
            C(name: "vocab_size differs from tensor", arguments: encode(path("m-vocabsize")), fragment: "word_embeddings.weight' has shape [45, 32], config.json implies [40, 32]"),
            C(name: "train on bigger vocab", arguments: train([], model: path("m-bigvocab")), fragment: "the tokenizer has 65 tokens"),
            // 3. Non-finite weights.
            C(name: "NaN weight", arguments: encode(path("m-nan")), fragment: "tensor 'embeddings.LayerNorm.weight' holds a non-finite value (nan"),
            C(name: "Inf weight", arguments: encode(path("m-inf")), fragment: "tensor 'encoder.layer.1.output.dense.weight' holds a non-finite value (inf"),
            C(name: "NaN weight in guide", arguments: train(["--loss", "gist", "--guide", path("m-nan")]), fragment: "holds a non-finite value"),
            C(name: "overflowing scale", arguments: train(["--scale", "1e300", "--lr", "1"]), fragment: "training stopped at step 1"),
            // 4. Crashes that became errors.
            C(name: "tokenize to a full disk", arguments: ["tokenize", "--model", m, "--input", texts], fragment: "stdout: cannot write (No space left on device)", stdoutToDevFull: true),
            C(name: "evaluate to a full disk", arguments: evaluate(), fragment: "stdout: cannot write", stdoutToDevFull: true),
            C(name: "huge encode batch", arguments: encode(m, ["--batch-size", "100000000"]), fragment: "--batch-size must be between 1 and 65536, got 100000000"),
            C(name: "huge train batch", arguments: train(["--batch-size", "1000000000000"]), fragment: "--batch-size must be between 1 and"),
            C(name: "max-steps 2^62", arguments: train(["--max-steps", "4611686018427387904"]), fragment: "--max-steps must be between 1 and"),
            C(name: "epochs 10^9", arguments: train(["--epochs", "1000000000"]), fragment: "--epochs must be between 1 and"),
            C(name: "negative batch", arguments: train(["--batch-size", "-1"]), fragment: "--batch-size must be between 1 and 1048576, got -1"),
            C(name: "negative encode batch", arguments: encode(m, ["--batch-size", "-3"]), fragment: "--batch-size must be between 1 and 65536, got -3"),
            C(name: "zero mini-batch", arguments: train(["--mini-batch-size", "0"]), fragment: "--mini-batch-size must be between 1"),
            C(name: "activation memory not a size", arguments: train(["--mini-batch-size", "2", "--activation-memory", "lots"]),
              fragment: "--activation-memory must be a size such as 512M or 2G (or bytes), got 'lots'"),
            C(name: "unknown activation memory unit", arguments: train(["--mini-batch-size", "2", "--activation-memory", "3X"]),
              fragment: "--activation-memory must be a size"),
            C(name: "nan lr", arguments: train(["--lr", "nan"]), fragment: "--lr must be a non-negative number"),
            C(name: "inf grad norm", arguments: train(["--max-grad-norm", "inf"]), fragment: "--max-grad-norm must be a non-negative number"),
            C(name: "dropout 1.5", arguments: train(["--dropout", "1.5"]), fragment: "--dropout must be in [0, 1)"),
            C(name: "negative warmup", arguments: train(["--warmup-steps", "-2"]), fragment: "--warmup-steps must be between 0"),
            C(name: "zero temperature", arguments: train(["--loss", "gist", "--guide", m, "--temperature", "0"]), fragment: "--temperature must be > 0"),
            // 6. Smaller lies.
            C(name: "qrels score 'high'", arguments: evaluate(qrels: path("qrels-high.jsonl")), fragment: "qrels-high.jsonl:1: score must be a number, got \"high\""),
            C(name: "qrels score true", arguments: evaluate(qrels: path("qrels-bool.jsonl")), fragment: "qrels-bool.jsonl:1: score must be a number"),
            C(name: "qrels nothing relevant", arguments: evaluate(qrels: path("qrels-none.jsonl")), fragment: "no query has a relevant document"),
            C(name: "duplicate corpus id", arguments: evaluate(corpus: path("corpus-dup.jsonl")), fragment: "corpus-dup.jsonl:2: id 'd1' appears twice"),
            C(name: "duplicate query id", arguments: evaluate(queries: path("queries-dup.jsonl")), fragment: "queries-dup.jsonl:2: id 'q1' appears twice"),
            C(name: "duplicate truncate dims", arguments: evaluate(["--truncate-dims", "16,16"]), fragment: "--truncate-dims: dimension 16 is listed twice"),
            C(name: "duplicate matryoshka dims", arguments: train(["--matryoshka-dims", "32,16,16"]), fragment: "--matryoshka-dims: dimension 16 is listed twice"),
            C(name: "matryoshka dim too large", arguments: train(["--matryoshka-dims", "64,32"]), fragment: "--matryoshka-dims: '64' is not a dimension between 1 and 32"),
            C(name: "sts score 'x'", arguments: ["evaluate", "--model", m, "--sts", path("sts-x.jsonl")], fragment: "sts-x.jsonl:1: needs a numeric score"),
            C(name: "max_seq_length 0", arguments: encode(path("m-seqlen0")), fragment: "max_seq_length must be an integer from 1 to max_position_embeddings (64), got 0"),
            C(name: "max_seq_length -5", arguments: encode(path("m-seqlenneg")), fragment: "got -5"),
            C(name: "max_seq_length string", arguments: encode(path("m-seqlenstr")), fragment: "got long"),
            C(name: "max_seq_length too long", arguments: encode(path("m-seqlenbig")), fragment: "got 100000"),
            C(name: "do_lower_case 'yes'", arguments: encode(path("m-lowercase")), fragment: "do_lower_case must be true or false"),
            C(name: "resume with another scale", arguments: resumeRun(["--scale", "30", "--matryoshka-dims", "32,16"]), fragment: "other loss options"),
            C(name: "resume with other dims", arguments: resumeRun(["--scale", "20", "--matryoshka-dims", "32,8"]), fragment: "other loss options"),
            C(name: "resume without the loss wrapper", arguments: resumeRun(["--scale", "20"]), fragment: "other loss options"),
            // Without bf16 on the machine (never under CI) the refusal is the missing oneDNN or CPU instead.
            C(name: "resume with another precision", arguments: resumeRun(["--scale", "20", "--matryoshka-dims", "32,16", "--precision", "bf16"]),
              fragment: BF16Machine.shouldTest ? "the checkpoint was trained with --precision fp32; resume with the same" : "--precision bf16 needs"),
            C(name: "train precision fp16", arguments: train(["--precision", "fp16"]), fragment: "--precision must be fp32 or bf16, got 'fp16'"),
            C(name: "resume from a model folder", arguments: train(["--resume", m]), fragment: "not an Ember checkpoint"),
            C(name: "resume elsewhere onto an earlier run", arguments: ["train", "--model", m, "--data", pairs, "--output", path("earlier-run")] + resume + ["--scale", "20", "--matryoshka-dims", "32,16"], fragment: "holds an earlier Ember run"),
            // 7. Model folders of every layout, checked field by field.
            C(name: "unknown pooling mode", arguments: encode(path("m-poolmode")), fragment: "unsupported pooling_mode 'attention'"),
            C(name: "pooling dimension a string", arguments: encode(path("m-pooldim")), fragment: "embedding_dimension must be a positive integer"),
            C(name: "pooling without a dimension", arguments: encode(path("m-poolnodim")), fragment: "missing embedding_dimension"),
            C(name: "include_prompt a string", arguments: encode(path("m-poolprompt")), fragment: "include_prompt must be true or false"),
            C(name: "pooling dimension wrong", arguments: encode(path("m-poolwrongdim")), fragment: "differs from hidden_size 32"),
            C(name: "Dense module", arguments: encode(path("m-dense")), fragment: "unsupported module 'sentence_transformers.models.Dense'"),
            C(name: "fill-mask task", arguments: encode(path("m-task")), fragment: "unsupported transformer_task 'fill-mask'"),
            C(name: "relu", arguments: encode(path("m-relu")), fragment: "unsupported hidden_act 'relu'"),
            C(name: "layer_norm_eps a string", arguments: encode(path("m-eps")), fragment: "'layer_norm_eps' must be a number"),
            C(name: "matryoshka weight nan", arguments: train(["--matryoshka-dims", "32,16", "--matryoshka-weights", "1,nan"]), fragment: "--matryoshka-weights: invalid value 'nan'"),
            C(name: "heads do not divide", arguments: encode(path("m-heads")), fragment: "not divisible by num_attention_heads 5"),
            C(name: "truncated weights", arguments: encode(path("m-truncated")), fragment: "model.safetensors"),
            // Data files.
            C(name: "ragged csv", arguments: train([], data: path("ragged.csv")), fragment: "ragged.csv:3: 3 fields, the header has 2"),
            C(name: "unterminated csv", arguments: train([], data: path("unterminated.csv")), fragment: "unterminated.csv:2: unterminated quoted field"),
            C(name: "number in data", arguments: train([], data: path("number.jsonl")), fragment: "number.jsonl:1: field 'positive' is a number (3), not a string"),
            C(name: "one column", arguments: train([], data: path("onecolumn.jsonl")), fragment: "training needs at least 2 text columns"),
            C(name: "not JSON", arguments: train([], data: path("notjson.jsonl")), fragment: "notjson.jsonl:2: not a JSON object"),
            C(name: "invalid UTF-8", arguments: train([], data: path("latin1.jsonl")), fragment: "latin1.jsonl:2: not valid UTF-8"),
            C(name: "empty data", arguments: train([], data: path("empty.jsonl")), fragment: "empty.jsonl: empty file"),
            C(name: "pdf input", arguments: encode(m, input: path("texts.pdf")), fragment: "unsupported input type '.pdf'"),
            C(name: "unknown column", arguments: train(["--columns", "anchor,answer"]), fragment: "--columns: no column 'answer'"),
            C(name: "missing data", arguments: train([], data: path("nope.jsonl")), fragment: "nope.jsonl: file not found"),
            // 8. Mining (the issue's list first).
            C(name: "mine: negatives beyond the rank window", arguments: mine(["--num-negatives", "5", "--range-max", "3"]), fragment: "--num-negatives 5 is larger than the rank window"),
            C(name: "mine: range-min = range-max", arguments: mine(["--range-min", "4", "--range-max", "4"]), fragment: "--range-min must be smaller than --range-max"),
            C(name: "mine: empty data", arguments: mine([], data: path("empty.jsonl")), fragment: "empty.jsonl: empty file"),
            C(name: "mine: missing column", arguments: mine(["--columns", "anchor,answer"]), fragment: "--columns: no column 'answer'"),
            C(name: "mine: one column", arguments: mine([], data: path("onecolumn.jsonl")), fragment: "onecolumn.jsonl"),
            C(name: "mine: output = data", arguments: mine([], output: pairs), fragment: "is the --data input"),
            C(name: "mine: output = someone's file", arguments: mine([], output: path("foreign-log.jsonl")), fragment: "--overwrite"),
            C(name: "mine: output in a missing folder", arguments: mine([], output: path("missing/mined.jsonl")), fragment: "cannot be written"),
            C(name: "mine: missing corpus", arguments: mine(["--corpus", path("nope.txt")]), fragment: "nope.txt"),
            C(name: "mine: NaN weight", arguments: mine([], model: path("m-nan")), fragment: "holds a non-finite value"),
            C(name: "mine: unknown prompt name", arguments: mine(["--query-prompt-name", "query"]), fragment: "--query-prompt-name 'query'"),
            C(name: "mine: nan margin", arguments: mine(["--relative-margin", "nan"]), fragment: "--relative-margin"),
        ]
    }

    /// Every file and folder under the sandbox with its size, modification time and a hash of its bytes.
    func snapshot() throws -> [String: String] {
        var result: [String: String] = [:]
        let fm = FileManager.default
        for name in fm.subpaths(atPath: root.path) ?? [] {
            let url = root.appendingPathComponent(name)
            let attributes = try fm.attributesOfItem(atPath: url.path)
            var entry = "\(attributes[.type] ?? "") \(attributes[.size] ?? 0) \((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
            if attributes[.type] as? FileAttributeType == .typeRegular, let data = fm.contents(atPath: url.path) {
                entry += " \(data.hashValue)"
            }
            result[name] = entry
        }
        return result
    }

    /// `ember` with the sandbox as its working folder; stdout optionally on /dev/full.
    func run(_ arguments: [String], stdoutToDevFull: Bool = false) throws -> EmberResult {
        try runEmber(arguments, in: root, stdout: stdoutToDevFull ? FileHandle(forWritingAtPath: "/dev/full") : nil)
    }
}
