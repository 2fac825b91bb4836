import EmberCore
import EmberModel
import EmberTraining
import Foundation

/// `ember train --prompts`: the reference's `prompts` training argument for one dataset — a JSON object
/// column name → prompt, or one prompt for every column — prepended to each column's texts before
/// tokenisation (the reference adds them as a dataset transform, so its batch sampler and the GIST guide
/// see the prompted texts too; so do Ember's).
enum TrainPrompts {
    /// `text` is a JSON object of strings, a JSON string, or (not starting with `{` or `"`) the prompt
    /// itself, so `--prompts 'query: '` works without JSON quoting. Returns column → prompt.
    static func parse(_ text: String, columns: [String], data: String) throws -> [String: String] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("{") {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any],
                  let prompts = object as? [String: String] else {
                throw EmberError("--prompts: not a JSON object of column name → prompt text: \(text)")
            }
            if let unknown = prompts.keys.sorted().first(where: { !columns.contains($0) }) {
                throw EmberError("--prompts: '\(unknown)' is not a training column of \(data) (columns: \(columns.joined(separator: ", ")))")
            }
            return prompts
        }
        var prompt = text
        if trimmed.hasPrefix("\"") {
            guard let string = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: .fragmentsAllowed)) as? String else {
                throw EmberError("--prompts: not a JSON string: \(text)")
            }
            prompt = string
        }
        return Dictionary(uniqueKeysWithValues: columns.map { ($0, prompt) })
    }

    /// The data with each column's prompt prepended, and per column the prompt tokens pooling must skip
    /// (the reference's `<column>_prompt_length`, nonzero only when include_prompt is false; refused for cls
    /// and lasttoken pooling, see `SentenceModel.promptLength`). A guide that would have to mask a prompt
    /// is refused: its pooling runs through `encode`, which has no per-column prompt lengths.
    static func apply(_ prompts: [String: String], to data: TrainingData, model: SentenceModel,
                      guide: SentenceModel?) throws -> (TrainingData, promptLengths: [Int]) {
        guard !prompts.isEmpty else { return (data, []) }
        if let guide, !guide.pooling.includePrompt, prompts.values.contains(where: { !$0.isEmpty }) {
            throw EmberError("--prompts: the --guide folder pools with include_prompt false, which Ember cannot guide with prompts yet")
        }
        let prefixes = data.columnNames.map { prompts[$0] ?? "" }
        let lengths = try prefixes.map { try model.promptLength($0) }
        let rows = data.rows.map { row in zip(prefixes, row).map { $0 + $1 } }
        return (TrainingData(columnNames: data.columnNames, rows: rows, lineNumbers: data.lineNumbers), lengths)
    }

    /// Saved in config_sentence_transformers.json as `prompts`, keyed by column name, beside the folder's
    /// own (the training's win on a shared name), so sentence-transformers' `encode(prompt_name=COLUMN)`
    /// and `ember encode --prompt-name COLUMN` embed as during training.
    static func record(_ prompts: [String: String], in model: SentenceModel) {
        model.promptConfig.prompts.merge(prompts) { _, new in new }
    }
}
