import EmberCore
import EmberTokenizer
import Foundation

/// A sentence-transformers model folder loaded for Ember: tokenizer → BERT encoder → Pooling →
/// (Normalize). Reads the v2–v5 layout (modules.json naming the Transformer at "" or "0_Transformer",
/// Pooling at "1_Pooling", Normalize listed with or without its folder) and plain Hugging Face BERT
/// folders (no modules.json: mean pooling, no Normalize, with a warning).
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
    public let warnings: [String]

    public var config: BertConfig { encoder.config }
    public var weights: BertWeights { encoder.weights }
    public var embeddingDimension: Int { pooling.outputDimension }

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
        if let data = fm.contents(atPath: stConfigURL.path) {
            guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw EmberError("\(stConfigURL.path): not a JSON object")
            }
            if let m = (json["max_seq_length"] as? NSNumber)?.intValue, m > 0 { maxLength = min(m, maxLength) }
            lowercase = json["do_lower_case"] as? Bool ?? false
        } else if let m = tokenizer.modelMaxLength {
            maxLength = min(m, maxLength)
        }
        maxSequenceLength = maxLength
        lowercaseInput = lowercase
        self.warnings = warnings
    }

    /// Token ids exactly as the reference tokenizer produces them ([CLS] … [SEP], truncated).
    public func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(lowercaseInput ? text.lowercased() : text, maxLength: maxSequenceLength)
    }

    /// Embeds already-tokenized sequences: [N × embeddingDimension], row-major.
    public func embed(tokenized: [[Int32]], normalize applyNormalize: Bool? = nil) -> FloatBuffer {
        let acts = encoder.forward(tokenized)
        let out = FloatBuffer(count: tokenized.count * embeddingDimension)
        pooling.forward(acts.lastHiddenState, sequences: acts.sequences, out.pointer)
        if applyNormalize ?? normalize { Normalize.forward(out.pointer, rows: tokenized.count, dim: embeddingDimension) }
        return out
    }

    /// Embeds texts in batches of `batchSize`, calling `progress(done)` after each batch.
    public func encode(_ texts: [String], batchSize: Int = 32, normalize applyNormalize: Bool? = nil,
                       progress: ((Int) -> Void)? = nil) -> FloatBuffer {
        let D = embeddingDimension
        let out = FloatBuffer(count: texts.count * D)
        var start = 0
        while start < texts.count {
            let end = min(texts.count, start + max(1, batchSize))
            let batch = embed(tokenized: texts[start..<end].map(tokenize), normalize: applyNormalize)
            (out.pointer + start * D).update(from: batch.pointer, count: batch.count)
            start = end
            progress?(end)
        }
        return out
    }
}
