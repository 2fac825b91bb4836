import EmberCore
import EmberModel
import Foundation
import XCTest

/// Prompts against sentence-transformers 6.2 (Tests/Fixtures/prompt_parity.json, parity/make_prompt_fixtures.py):
/// include_prompt false masking per pooling mode, and a folder's prompts / default_prompt_name.
final class PromptParityTests: XCTestCase {
    struct Fixture: Decodable {
        struct Named: Decodable {
            let prompts: [String: String]
            let default_prompt_name: String
            let `default`: [[Double]]
            let document: [[Double]]
        }
        let prompt: String
        let texts: [String]
        let include_prompt_false: [String: [[Double]]]
        let named: Named
    }

    let fixture: Fixture = {
        let data = try! Data(contentsOf: Paths.fixtures.appendingPathComponent("prompt_parity.json"))
        return try! JSONDecoder().decode(Fixture.self, from: data)
    }()

    func assertClose(_ ours: FloatBuffer, _ reference: [[Double]], _ what: String) {
        let D = reference[0].count
        XCTAssertEqual(ours.count, reference.count * D, what)
        for (i, row) in reference.enumerated() {
            for j in 0..<D { XCTAssertEqual(Double(ours.pointer[i * D + j]), row[j], accuracy: 1e-5, "\(what) text \(i) dim \(j)") }
        }
    }

    func testIncludePromptFalseMatchesTheReference() throws {
        XCTAssertEqual(Set(fixture.include_prompt_false.keys), ["mean", "mean_sqrt_len_tokens", "weightedmean", "max"])
        for (mode, expected) in fixture.include_prompt_false {
            let folder = try copyFolder(Paths.tinyBert, self)
            try Data(#"{"embedding_dimension": 32, "pooling_mode": "\#(mode)", "include_prompt": false}"#.utf8)
                .write(to: folder.appendingPathComponent("1_Pooling/config.json"))
            let model = try SentenceModel(folder: folder)
            XCTAssertFalse(model.pooling.includePrompt)
            assertClose(try model.encode(fixture.texts, prompt: fixture.prompt), expected, mode)
        }
    }

    func testFolderPromptsMatchTheReference() throws {
        let folder = try copyFolder(Paths.tinyBert, self)
        try Data(#"{"prompts": {"query": "\#(fixture.prompt)", "document": ""}, "default_prompt_name": "query"}"#.utf8)
            .write(to: folder.appendingPathComponent("config_sentence_transformers.json"))
        let model = try SentenceModel(folder: folder)
        XCTAssertEqual(model.promptConfig.prompts, fixture.named.prompts)
        XCTAssertEqual(model.promptConfig.defaultPromptName, fixture.named.default_prompt_name)
        let byDefault = try model.promptConfig.resolve(prompt: nil, name: nil)
        assertClose(try model.encode(fixture.texts, prompt: byDefault), fixture.named.default, "default prompt")
        let document = try model.promptConfig.resolve(prompt: nil, name: "document")
        assertClose(try model.encode(fixture.texts, prompt: document), fixture.named.document, "prompt_name document")
    }
}
