import EmberCore
import EmberModel
import Foundation
import XCTest

/// Loading model folders: the layouts that must work, and the bad ones that must fail clearly.
final class ModelFolderTests: XCTestCase {
    func expectError(_ folder: URL, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SentenceModel(folder: folder), file: file, line: line) { error in
            let message = (error as? EmberError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        }
    }

    func rewriteJSON(_ url: URL, _ edit: (inout [String: Any]) -> Void) throws {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    func testMissingFolderAndFiles() throws {
        expectError(URL(fileURLWithPath: "/nonexistent/ember-model"), "/nonexistent/ember-model: model folder not found")
        let noConfig = try copyFolder(Paths.tinyBert, self)
        try FileManager.default.removeItem(at: noConfig.appendingPathComponent("config.json"))
        expectError(noConfig, "config.json")
        let noWeights = try copyFolder(Paths.tinyBert, self)
        try FileManager.default.removeItem(at: noWeights.appendingPathComponent("model.safetensors"))
        expectError(noWeights, "model.safetensors")
        let noVocab = try copyFolder(Paths.tinyBert, self)
        try FileManager.default.removeItem(at: noVocab.appendingPathComponent("vocab.txt"))
        expectError(noVocab, noVocab.path)
    }

    func testUnsupportedArchitecture() throws {
        let folder = try copyFolder(Paths.tinyBert, self)
        try rewriteJSON(folder.appendingPathComponent("config.json")) {
            $0["model_type"] = "xlm-roberta"; $0["architectures"] = ["XLMRobertaModel"]
        }
        expectError(folder, "unsupported architecture 'xlm-roberta'")
        let gelu = try copyFolder(Paths.tinyBert, self)
        try rewriteJSON(gelu.appendingPathComponent("config.json")) { $0["hidden_act"] = "relu" }
        expectError(gelu, "unsupported hidden_act 'relu'")
    }

    func testShapeMismatchNamesTheTensor() throws {
        let folder = try copyFolder(Paths.tinyBert, self)
        try rewriteJSON(folder.appendingPathComponent("config.json")) { $0["intermediate_size"] = 48 }
        expectError(folder, "encoder.layer.0.intermediate.dense.weight")
    }

    func testPlainHuggingFaceFolderUsesMeanPoolingWithAWarning() throws {
        let folder = try copyFolder(Paths.tinyBert, self)
        for name in ["modules.json", "1_Pooling", "sentence_bert_config.json", "config_sentence_transformers.json"] {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
        let plain = try SentenceModel(folder: folder)
        XCTAssertEqual(plain.pooling.modes, [.mean])
        XCTAssertFalse(plain.normalize)
        XCTAssertTrue(plain.warnings.contains { $0.contains("no modules.json") })
        // Without sentence_bert_config.json the limit comes from tokenizer_config.json's model_max_length
        // capped by the position table (64 for tiny-bert).
        XCTAssertEqual(plain.maxSequenceLength, 64)
        // Same encoder output as the full folder's mean pooling, before Normalize.
        let full = try SentenceModel(folder: Paths.tinyBert)
        let a = plain.encode(["the cat"]), b = full.encode(["the cat"], normalize: false)
        XCTAssertEqual(a.array, b.array)
    }

    func testUnsupportedModuleIsAnError() throws {
        let folder = try copyFolder(Paths.tinyBert, self)
        let modules = folder.appendingPathComponent("modules.json")
        var list = try JSONSerialization.jsonObject(with: Data(contentsOf: modules)) as! [[String: Any]]
        list.append(["idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"])
        try JSONSerialization.data(withJSONObject: list).write(to: modules)
        expectError(folder, "unsupported module 'sentence_transformers.models.Dense'")
    }
}
