import ArgumentParser
import EmberCore
import EmberModel
import EmberTraining
import Foundation

/// Shared flags: the model folder and the text input.
struct ModelInput: ParsableArguments {
    @Option(name: .long, help: "Model folder (sentence-transformers or Hugging Face BERT layout).")
    var model: String

    @Option(name: .long, help: "Texts: .txt (one per line), .jsonl, .csv or .tsv.")
    var input: String

    @Option(name: .long, help: "JSONL field / CSV column holding the text (default: text).")
    var field: String?

    func loadModel() throws -> SentenceModel {
        let model = try SentenceModel(folder: URL(fileURLWithPath: self.model))
        model.warnings.forEach(warn)
        return model
    }

    func loadTexts() throws -> [String] {
        try TextFiles.texts(from: URL(fileURLWithPath: input), field: field)
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts with a model folder's own pipeline (tokenizer, encoder, pooling, Normalize).")

    @OptionGroup var source: ModelInput
    @OptionGroup var precisionOption: PrecisionOption

    @Option(name: .long, help: "Embeddings file: .npy (float32 [N, D]) or .jsonl.")
    var output: String

    @Option(name: .long, help: "Texts per forward pass.")
    var batchSize: Int = 32

    @Option(name: .long, help: "Keep the first D dimensions and re-normalise (Matryoshka).")
    var truncateDim: Int?

    @Flag(name: .long, help: "Skip the Normalize module even if modules.json lists it.")
    var noNormalize = false

    @Flag(name: .long, help: "Replace an existing --output file that is not an Ember embeddings file.")
    var overwrite = false

    @Option(name: .long, help: "Text prepended to every input before encoding (e.g. 'query: ').")
    var prompt: String?

    @Option(name: .long, help: "A prompt by name from the model's config_sentence_transformers.json prompts.")
    var promptName: String?

    func validate() throws {
        try checkBatchSize(batchSize)
        if let truncateDim, truncateDim <= 0 { throw ValidationError("--truncate-dim must be positive, got \(truncateDim)") }
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        guard ext == "npy" || ext == "jsonl" else {
            throw ValidationError("--output \(output): unsupported type '.\(ext)' (use .npy or .jsonl)")
        }
    }

    func run() throws {
        try precisionOption.apply()
        let outputURL = URL(fileURLWithPath: output)
        try OutputFile.check(outputURL, flag: "--output", kind: "an embeddings file",
                             inputs: [("--input", source.input), ("--model", source.model)], overwrite: overwrite,
                             isEmbers: EmbeddingFiles.looksLikeEmbeddings)
        try OutputFile.checkWritable(outputURL, flag: "--output")
        let model = try source.loadModel()
        let texts = try source.loadTexts()
        let fullDim = model.embeddingDimension
        let dim = truncateDim ?? fullDim
        guard dim <= fullDim else { throw EmberError("--truncate-dim \(dim) exceeds the model's dimension \(fullDim)") }
        // As the reference's encode: --prompt, else --prompt-name, else the folder's default_prompt_name.
        let chosen = try model.promptConfig.resolve(prompt: prompt, name: promptName)
        let progress = ProgressBar(total: texts.count, label: "encode", unit: "texts")
        var values = try model.encode(texts, prompt: chosen, batchSize: batchSize, normalize: !noNormalize) { progress.update($0) }
        progress.finish()
        if dim < fullDim {
            values = Normalize.truncated(values, rows: texts.count, fullDim: fullDim, dim: dim, renormalize: !noNormalize)
        }
        if let bad = values.firstNonFinite() {
            throw EmberError("\(source.input): text \(bad / dim + 1) has a non-finite embedding (the model's activations overflow); nothing was written")
        }
        try EmbeddingFiles.write(values.pointer, rows: texts.count, dim: dim, to: outputURL)
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one JSON array of token ids per text, exactly as the folder's Hugging Face tokenizer would.")

    @OptionGroup var source: ModelInput

    func run() throws {
        let model = try source.loadModel()
        var out = ""
        for text in try source.loadTexts() {
            out += "[" + model.tokenize(text).map(String.init).joined(separator: ",") + "]\n"
        }
        try StandardOutput.write(Data(out.utf8))
    }
}
