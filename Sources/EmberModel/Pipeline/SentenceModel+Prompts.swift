import EmberCore
import Foundation

/// Prompts as sentence-transformers handles them: `prompts` (name → text) and `default_prompt_name`
/// from the folder's config_sentence_transformers.json; a prompt is prepended to each text, and when
/// the Pooling's include_prompt is false its tokens are masked out of pooling.
public struct PromptConfig: Equatable, Sendable {
    public var prompts: [String: String] = [:]
    public var defaultPromptName: String? = nil

    public init(prompts: [String: String] = [:], defaultPromptName: String? = nil) {
        self.prompts = prompts
        self.defaultPromptName = defaultPromptName
    }

    /// Reads the root folder's config_sentence_transformers.json; a missing file means no prompts.
    /// The reference refuses a default_prompt_name that is not a key of prompts at load; so does Ember.
    static func load(folder: URL) throws -> PromptConfig {
        let url = folder.appendingPathComponent("config_sentence_transformers.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return PromptConfig() }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EmberError("\(url.path): not a JSON object")
        }
        var config = PromptConfig()
        if let value = json["prompts"], !(value is NSNull) {
            guard let prompts = value as? [String: Any], let strings = prompts as? [String: String] else {
                throw EmberError("\(url.path): prompts must be an object of prompt name → text, got \(value)")
            }
            config.prompts = strings
        }
        if let value = json["default_prompt_name"], !(value is NSNull) {
            guard let name = value as? String else {
                throw EmberError("\(url.path): default_prompt_name must be a string or null, got \(value)")
            }
            guard config.prompts[name] != nil else {
                throw EmberError("\(url.path): default_prompt_name '\(name)' is not one of prompts (\(config.prompts.keys.sorted().joined(separator: ", ")))")
            }
            config.defaultPromptName = name
        }
        return config
    }

    /// What a text is encoded as, for the reference's `encode_query`/`encode_document`; nil is plain `encode`.
    public enum Task: Sendable { case query, document }

    /// The prompt the reference's `encode`, `encode_query` or `encode_document` would apply:
    /// - an explicit prompt wins (a name given beside it is ignored there with a warning; Ember refuses
    ///   both, naming `flags`);
    /// - else the named prompt, which must exist;
    /// - else, for a query, the folder's "query" prompt, and for a document the first of "document",
    ///   "passage", "corpus" — an empty one included, which keeps default_prompt_name out;
    /// - else the default prompt name's; else none.
    /// Its IR evaluator and mine_hard_negatives encode through `encode_query`/`encode_document`.
    public func resolve(prompt: String?, name: String?, task: Task? = nil,
                        flags: (prompt: String, name: String) = ("--prompt", "--prompt-name")) throws -> String? {
        if let prompt {
            if name != nil { throw EmberError("\(flags.prompt) and \(flags.name): give one, not both") }
            return prompt
        }
        if let name {
            guard let text = prompts[name] else {
                let known = prompts.isEmpty ? "the folder defines none" : "known: " + prompts.keys.sorted().joined(separator: ", ")
                throw EmberError("\(flags.name) '\(name)': not in the model's config_sentence_transformers.json prompts (\(known))")
            }
            return text
        }
        if let task {
            let names = task == .query ? ["query"] : ["document", "passage", "corpus"]
            if let text = names.lazy.compactMap({ prompts[$0] }).first { return text }
        }
        return defaultPromptName.flatMap { prompts[$0] }
    }
}

extension SentenceModel {
    /// How many leading tokens pooling must skip for `prompt`: 0 when include_prompt is true, else the
    /// reference's `prompt_length` — the prompt's token count without the trailing [SEP] ([CLS] included).
    /// An empty prompt masks nothing, as in the reference since v3 (`if prompt is not None and len(prompt) > 0`).
    /// cls and lasttoken pooling are refused with include_prompt false: sentence-transformers' versions
    /// disagree there (v3–v5 read token 0 for cls, 6.x the first token after the prompt; lasttoken's masked
    /// index arithmetic changed too), so no choice would match every reader of the folder.
    public func promptLength(_ prompt: String?) throws -> Int {
        guard let prompt, !prompt.isEmpty, !pooling.includePrompt else { return 0 }
        if let mode = pooling.modes.first(where: { $0 == .cls || $0 == .lastToken }) {
            let name = mode == .cls ? "cls" : "lasttoken"
            throw EmberError("\(folder.path): \(name) pooling with include_prompt false is not supported with a prompt (sentence-transformers versions disagree on it)")
        }
        return tokenize(prompt).count - 1
    }

    /// Embeds `prompt + text` for every text, in batches, as the reference's `encode(prompt=)`.
    public func encode(_ texts: [String], prompt: String?, batchSize: Int = 32, normalize applyNormalize: Bool? = nil,
                       progress: ((Int) -> Void)? = nil) throws -> FloatBuffer {
        let skip = try promptLength(prompt)
        let input = prompt.map { p in texts.map { p + $0 } } ?? texts
        return encode(input, batchSize: batchSize, normalize: applyNormalize, promptLength: skip, progress: progress)
    }
}
