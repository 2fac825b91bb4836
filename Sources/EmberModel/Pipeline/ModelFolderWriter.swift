import EmberCore
import Foundation

/// Writing a model folder that every sentence-transformers version (v2 through 6.x) loads unchanged:
/// the v2–v5.3 spellings of spec §10.4 — modules.json with `sentence_transformers.models.*` types, the
/// Transformer in the root, legacy Pooling keys, legacy sentence_bert_config.json, a modest
/// `__version__` — plus config.json and the tokenizer files copied from the source folder, and the
/// encoder's weights under their checkpoint keys.
extension SentenceModel {
    /// Writes the folder's files into the existing, empty folder `folder` (not atomic by itself; see
    /// `AtomicFolder.write`).
    public func writeFolder(into folder: URL) throws {
        let fm = FileManager.default
        func json(_ object: Any, _ name: String) throws {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: folder.appendingPathComponent(name))
        }
        // Never save a non-finite weight: a NaN model would load everywhere and encode nothing.
        for p in parameters {
            if let bad = p.value.firstNonFinite() {
                throw EmberError("\(folder.path): not saved: weight '\(p.name)' is not finite (\(p.value.pointer[bad]) at index \(bad))")
            }
        }
        try SafeTensors.write(weights.checkpointTensors(), to: folder.appendingPathComponent("model.safetensors"))
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"] {
            let source = transformerFolder.appendingPathComponent(name)
            if fm.fileExists(atPath: source.path) {
                try fm.copyItem(at: source, to: folder.appendingPathComponent(name))
            }
        }
        try json(["max_seq_length": maxSequenceLength, "do_lower_case": lowercaseInput], "sentence_bert_config.json")
        try json(["__version__": ["sentence_transformers": "5.1.2", "transformers": "4.57.1", "pytorch": "2.8.0"],
                  "model_type": "SentenceTransformer", "prompts": promptConfig.prompts,
                  "default_prompt_name": promptConfig.defaultPromptName ?? NSNull() as Any,
                  "similarity_fn_name": "cosine"] as [String: Any], "config_sentence_transformers.json")
        var modules: [[String: Any]] = [
            ["idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"],
            ["idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"]]
        let poolingFolder = folder.appendingPathComponent("1_Pooling")
        try fm.createDirectory(at: poolingFolder, withIntermediateDirectories: true)
        var poolingConfig: [String: Any] = ["word_embedding_dimension": pooling.dimension, "include_prompt": pooling.includePrompt]
        for mode in Pooling.Mode.allCases { poolingConfig[mode.rawValue] = pooling.modes.contains(mode) }
        try json(poolingConfig, "1_Pooling/config.json")
        if normalize {
            modules.append(["idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"])
            try fm.createDirectory(at: folder.appendingPathComponent("2_Normalize"), withIntermediateDirectories: true)
        }
        try json(modules, "modules.json")
    }

    /// Saves the model to `folder` atomically (a temporary sibling folder, then rename).
    public func save(to folder: URL, preserving: (String) -> Bool = { _ in false }) throws {
        try save(to: folder, preserving: preserving, extraFiles: { _ in })
    }

    /// The same, with `extraFiles` writing further files (a model card) into the folder being saved. A
    /// separate overload with a required label, so that `save(to:) { preserving }` keeps its meaning.
    public func save(to folder: URL, preserving: (String) -> Bool, extraFiles: (URL) throws -> Void) throws {
        try AtomicFolder.write(to: folder, preserving: preserving) { dir in
            try writeFolder(into: dir)
            try extraFiles(dir)
        }
    }
}
