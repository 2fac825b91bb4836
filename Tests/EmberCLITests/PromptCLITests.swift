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
}
