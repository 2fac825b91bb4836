import EmberCore
import EmberTokenizer
import Foundation

/// A sentence-transformers model folder loaded for Ember: tokenizer → BERT encoder → Pooling →
/// (Normalize). Reads both layouts of spec §10.4 — v2–v5.3 (`sentence_transformers.models.*` module
/// types, legacy Pooling keys, max_seq_length in sentence_bert_config.json) and v5.4+/6.x (new module
/// type paths, `pooling_mode`/`embedding_dimension`, max_seq_length as the tokenizer's model_max_length,
/// tokenizer.json without vocab.txt) — and plain Hugging Face BERT folders (no modules.json: mean
/// pooling, no Normalize, with a warning). Every file is validated at load: token ids must index the
/// embedding matrix, max_seq_length must fit the position table, weights must be finite.
public final class SentenceModel {
    public let folder: URL
    /// Where config.json, the weights and the tokenizer files live (the Transformer module's path).
    public let transformerFolder: URL
    public let tokenizer: BertTokenizer
    public let encoder: BertEncoder
    public let pooling: Pooling
    public let normalize: Bool
    /// Truncation length: sentence_bert_config.json's max_seq_length, capped by the position table.
    public let maxSequenceLength: Int
    /// sentence_bert_config.json's do_lower_case: sentence-transformers lower-cases text before tokenizing.
    public let lowercaseInput: Bool
    /// modules.json as read (written back unchanged on save), nil for a plain Hugging Face folder.
    public let modulesJSON: [[String: Any]]?
    /// config_sentence_transformers.json's prompts and default_prompt_name (written back on save;
    /// `ember train --prompts` replaces them).
    public var promptConfig: PromptConfig
    public let warnings: [String]

    public var config: BertConfig { encoder.config }
    public var weights: BertWeights { encoder.weights }
    public var embeddingDimension: Int { pooling.outputDimension }

    /// A copy for another worker thread: the same files, tokenizer and weight values, its own gradients
    /// (`BertWeights.sharingValues`).
    public func sharingValues() -> SentenceModel { SentenceModel(copying: self, encoder: BertEncoder(weights: weights.sharingValues())) }

    private init(copying m: SentenceModel, encoder: BertEncoder) {
        folder = m.folder; transformerFolder = m.transformerFolder; tokenizer = m.tokenizer
        self.encoder = encoder
        pooling = m.pooling; normalize = m.normalize; maxSequenceLength = m.maxSequenceLength
        lowercaseInput = m.lowercaseInput; modulesJSON = m.modulesJSON; promptConfig = m.promptConfig; warnings = m.warnings
    }

    public init(folder: URL) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EmberError("\(folder.path): model folder not found")
        }
        self.folder = folder
        var warnings: [String] = []
        var transformerPath = ""
        var poolingPath: String? = nil
        var normalize = false
        let modulesURL = folder.appendingPathComponent("modules.json")
        if let data = fm.contents(atPath: modulesURL.path) {
            guard let modules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
                throw EmberError("\(modulesURL.path): not a JSON array of modules")
            }
            for (index, module) in modules.enumerated() {
                let type = module["type"] as? String ?? ""
                let path = module["path"] as? String ?? ""
                switch type.split(separator: ".").last.map(String.init) ?? "" {
                case "Transformer" where index == 0: transformerPath = path
                case "Pooling": poolingPath = path
                case "Normalize": normalize = true
                default:
                    throw EmberError("\(modulesURL.path): unsupported module '\(type)' (Ember supports Transformer, Pooling, Normalize)")
                }
            }
            modulesJSON = modules
        } else {
            modulesJSON = nil
            warnings.append("\(folder.path): no modules.json; treating it as a plain Hugging Face BERT folder with mean pooling")
        }
        transformerFolder = transformerPath.isEmpty ? folder : folder.appendingPathComponent(transformerPath)
        let config = try BertConfig.load(transformerFolder.appendingPathComponent("config.json"))
        encoder = BertEncoder(weights: try BertWeights.load(folder: transformerFolder, config: config))
        tokenizer = try BertTokenizer(folder: transformerFolder)
        // Every id the tokenizer can produce must index a row of the word embeddings.
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw EmberError("\(transformerFolder.path): the tokenizer has \(tokenizer.vocabularySize) tokens but the word embeddings have \(config.vocabSize) rows (config.json vocab_size); the tokenizer does not belong to these weights")
        }
        if let poolingPath {
            pooling = try Pooling.load(folder.appendingPathComponent(poolingPath).appendingPathComponent("config.json"))
            guard pooling.dimension == config.hiddenSize else {
                throw EmberError("\(folder.appendingPathComponent(poolingPath).path)/config.json: word_embedding_dimension \(pooling.dimension) differs from hidden_size \(config.hiddenSize)")
            }
        } else {
            if modulesJSON != nil { warnings.append("\(modulesURL.path): no Pooling module listed; using mean pooling") }
            pooling = Pooling(modes: [.mean], dimension: config.hiddenSize)
        }
        self.normalize = normalize
        var maxLength = config.maxPositionEmbeddings
        var lowercase = false
        let stConfigURL = transformerFolder.appendingPathComponent("sentence_bert_config.json")
        // max_seq_length: sentence_bert_config.json (v2–v5.3), else the tokenizer's model_max_length
        // (where v5.4+/6.x keep it), else the position table; an explicit value must fit the table.
        var stated: Int? = nil
        if let data = fm.contents(atPath: stConfigURL.path) {
            guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw EmberError("\(stConfigURL.path): not a JSON object")
            }
            if let value = json["max_seq_length"], !(value is NSNull) {
                guard let m = JSONField.integer(value), (1...config.maxPositionEmbeddings).contains(m) else {
                    throw EmberError("\(stConfigURL.path): max_seq_length must be an integer from 1 to max_position_embeddings (\(config.maxPositionEmbeddings)), got \(value)")
                }
                stated = m
            }
            if let value = json["do_lower_case"], !(value is NSNull) {
                guard let flag = JSONField.boolean(value) else {
                    throw EmberError("\(stConfigURL.path): do_lower_case must be true or false, got \(value)")
                }
                lowercase = flag
            }
            if let task = json["transformer_task"] as? String, task != "feature-extraction" {
                throw EmberError("\(stConfigURL.path): unsupported transformer_task '\(task)' (Ember runs feature-extraction encoders)")
            }
        }
        if let stated {
            maxLength = stated
        } else if let m = tokenizer.modelMaxLength {
            maxLength = min(m, maxLength)
        }
        maxSequenceLength = maxLength
        lowercaseInput = lowercase
        promptConfig = try PromptConfig.load(folder: folder)
        self.warnings = warnings
    }

    /// Token ids exactly as the reference tokenizer produces them ([CLS] … [SEP], truncated).
    public func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(lowercaseInput ? text.lowercased() : text, maxLength: maxSequenceLength)
    }

    /// Embeds already-tokenized sequences: [N × embeddingDimension], row-major.
    /// `promptLength` leading tokens are masked out of pooling (include_prompt false; see `promptLength(_:)`).
    public func embed(tokenized: [[Int32]], normalize applyNormalize: Bool? = nil, promptLength: Int = 0) -> FloatBuffer {
        let acts = encoder.forward(tokenized)
        let out = FloatBuffer(count: tokenized.count * embeddingDimension)
        pooling.forward(acts.lastHiddenState, sequences: acts.sequences, out.pointer, excludingLeading: promptLength)
        if applyNormalize ?? normalize { Normalize.forward(out.pointer, rows: tokenized.count, dim: embeddingDimension) }
        return out
    }

    /// Embeds texts in batches of `batchSize`, calling `progress(done)` after each batch.
    public func encode(_ texts: [String], batchSize: Int = 32, normalize applyNormalize: Bool? = nil,
                       promptLength: Int = 0, progress: ((Int) -> Void)? = nil) -> FloatBuffer {
        let D = embeddingDimension, size = max(1, batchSize)
        let out = FloatBuffer(count: texts.count * D)
        // Batches are independent: one per core at a time (CoreWorkers), each written to its own rows.
        // A batch's rows and products are the same whichever worker runs it, so the output is too.
        let batches = (texts.count + size - 1) / size
        let lock = NSLock()
        var done = 0
        CoreWorkers.forEach(batches) { b in
            let start = b * size, end = min(texts.count, start + size)
            let batch = embed(tokenized: texts[start..<end].map(tokenize), normalize: applyNormalize, promptLength: promptLength)
            (out.pointer + start * D).update(from: batch.pointer, count: batch.count)
            lock.lock()
            done += end - start
            progress?(done)
            lock.unlock()
        }
        return out
    }
}
