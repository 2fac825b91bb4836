import EmberCore
import EmberModel
import Foundation
import XCTest

/// Prompts in the model layer: config_sentence_transformers.json's prompts/default_prompt_name, the
/// reference's resolution order, and pooling that masks the prompt's tokens when include_prompt is false.
final class PromptTests: XCTestCase {
    let prompt = "a short text: ", texts = ["the cat is in the text", "anchor and positive"]

    /// A tiny-bert copy whose Pooling has `modes` and include_prompt `include`.
    func tinyBert(modes: [String], include: Bool) throws -> SentenceModel {
        let folder = try copyFolder(Paths.tinyBert, self)
        var config: [String: Any] = ["word_embedding_dimension": 32, "include_prompt": include]
        for mode in Pooling.Mode.allCases { config[mode.rawValue] = modes.contains(mode.rawValue) }
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("1_Pooling/config.json"))
        return try SentenceModel(folder: folder)
    }

    func testIncludePromptTrueIsPrependingByHand() throws {
        let model = try SentenceModel(folder: Paths.tinyBert)
        XCTAssertTrue(model.pooling.includePrompt)
        XCTAssertEqual(try model.promptLength(prompt), 0)
        let prompted = try model.encode(texts, prompt: prompt).array
        let byHand = model.encode(texts.map { prompt + $0 }).array
        XCTAssertEqual(prompted, byHand)
        XCTAssertNotEqual(prompted, model.encode(texts).array, "the prompt changes the embedding")
    }

    /// include_prompt false: the reference masks attention_mask[:, :prompt_length], prompt_length being
    /// the prompt's token count without [SEP]; recomputed here from the encoder's token states.
    func testIncludePromptFalseMasksThePromptTokens() throws {
        for mode in ["pooling_mode_mean_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"] {
            let model = try tinyBert(modes: [mode], include: false)
            let promptIds = model.tokenize(prompt)
            let skip = try model.promptLength(prompt)
            XCTAssertEqual(skip, promptIds.count - 1)
            XCTAssertEqual(skip, 5, "[CLS] a short text [UNK]")
            XCTAssertEqual(try model.promptLength(""), 0, "an empty prompt masks nothing, not even [CLS]")
            XCTAssertEqual(try model.encode(texts, prompt: "").array, model.encode(texts).array)
            let prompted = try model.encode(texts, prompt: prompt, normalize: false)
            for (i, text) in texts.enumerated() {
                let ids = model.tokenize(prompt + text)
                XCTAssertEqual(Array(ids.prefix(skip)), Array(promptIds.prefix(skip)), "the prompt's tokens lead the sequence")
                let acts = model.encoder.forward([ids])
                let H = 32, L = ids.count
                var expected = [Double](repeating: mode == "pooling_mode_max_tokens" ? -.infinity : 0, count: H)
                var weightSum = 0.0
                for t in skip..<L {
                    let weight = mode == "pooling_mode_weightedmean_tokens" ? Double(t + 1) : 1
                    weightSum += weight
                    for j in 0..<H {
                        let x = Double(acts.lastHiddenState[t * H + j])
                        expected[j] = mode == "pooling_mode_max_tokens" ? max(expected[j], x) : expected[j] + weight * x
                    }
                }
                let divisor = mode == "pooling_mode_max_tokens" ? 1 : mode == "pooling_mode_mean_sqrt_len_tokens" ? Double(L - skip).squareRoot() : weightSum
                for j in 0..<H {
                    XCTAssertEqual(Double(prompted.pointer[i * H + j]), expected[j] / divisor, accuracy: 1e-5, "\(mode) text \(i) dim \(j)")
                }
            }
            let included = try tinyBert(modes: [mode], include: true)
            XCTAssertEqual(try included.promptLength(prompt), 0)
            XCTAssertNotEqual(prompted.array, try included.encode(texts, prompt: prompt, normalize: false).array, mode)
        }
    }

    /// sentence-transformers versions disagree on cls/lasttoken with a masked prompt: refused, not guessed.
    func testClsAndLastTokenWithIncludePromptFalseAreRefused() throws {
        for mode in ["pooling_mode_cls_token", "pooling_mode_lasttoken"] {
            let model = try tinyBert(modes: [mode, "pooling_mode_mean_tokens"], include: false)
            XCTAssertThrowsError(try model.encode(texts, prompt: prompt)) { XCTAssertTrue("\($0)".contains("include_prompt false"), "\($0)") }
            XCTAssertNoThrow(try model.encode(texts, prompt: ""))
            XCTAssertNoThrow(try tinyBert(modes: [mode], include: true).encode(texts, prompt: prompt))
        }
    }

    func testPromptConfigIsReadResolvedAndSaved() throws {
        let folder = try copyFolder(Paths.tinyBert, self)
        let config = folder.appendingPathComponent("config_sentence_transformers.json")
        try Data(#"{"prompts": {"query": "a short text: ", "document": ""}, "default_prompt_name": "query"}"#.utf8).write(to: config)
        let model = try SentenceModel(folder: folder)
        XCTAssertEqual(model.promptConfig, PromptConfig(prompts: ["query": prompt, "document": ""], defaultPromptName: "query"))
        XCTAssertEqual(try model.promptConfig.resolve(prompt: nil, name: nil), prompt, "the default prompt name applies")
        XCTAssertEqual(try model.promptConfig.resolve(prompt: nil, name: "document"), "")
        XCTAssertEqual(try model.promptConfig.resolve(prompt: "x ", name: nil), "x ")
        XCTAssertThrowsError(try model.promptConfig.resolve(prompt: nil, name: "passage"))
        XCTAssertThrowsError(try model.promptConfig.resolve(prompt: "x", name: "query"))
        // Saved back as sentence-transformers wrote them.
        let saved = try temporaryFolder(self).appendingPathComponent("saved")
        try model.save(to: saved)
        XCTAssertEqual(try SentenceModel(folder: saved).promptConfig, model.promptConfig)
        // A default name that is not a prompt, or prompts that are not strings, are refused at load.
        try Data(#"{"prompts": {"query": "q: "}, "default_prompt_name": "passage"}"#.utf8).write(to: config)
        XCTAssertThrowsError(try SentenceModel(folder: folder)) { XCTAssertTrue("\($0)".contains("default_prompt_name 'passage'"), "\($0)") }
        try Data(#"{"prompts": {"query": 3}}"#.utf8).write(to: config)
        XCTAssertThrowsError(try SentenceModel(folder: folder)) { XCTAssertTrue("\($0)".contains("prompts must be"), "\($0)") }
    }
}
