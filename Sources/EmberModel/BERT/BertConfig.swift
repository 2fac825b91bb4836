import EmberCore
import Foundation

/// The fields of a Hugging Face `config.json` that a BERT encoder needs.
public struct BertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var hiddenDropoutProb: Float
    public var attentionProbsDropoutProb: Float

    public var headDim: Int { hiddenSize / numAttentionHeads }

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                maxPositionEmbeddings: Int, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
                hiddenDropoutProb: Float = 0.1, attentionProbsDropoutProb: Float = 0.1) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps; self.hiddenDropoutProb = hiddenDropoutProb
        self.attentionProbsDropoutProb = attentionProbsDropoutProb
    }

    /// Reads and validates `config.json`. Anything that is not a BERT encoder with the erf GELU is an
    /// "unsupported architecture" error naming the file.
    public static func load(_ url: URL) throws -> BertConfig {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EmberError("\(url.path): missing model config (config.json)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EmberError("\(url.path): not a JSON object")
        }
        let modelType = json["model_type"] as? String ?? "?"
        let architectures = (json["architectures"] as? [String]) ?? []
        guard modelType == "bert" else {
            throw EmberError("\(url.path): unsupported architecture '\(modelType)'\(architectures.isEmpty ? "" : " (\(architectures.joined(separator: ", ")))"); Ember supports BERT encoders (model_type \"bert\")")
        }
        if let decoder = json["is_decoder"] as? Bool, decoder {
            throw EmberError("\(url.path): unsupported architecture: a BERT decoder (is_decoder is true)")
        }
        let activation = json["hidden_act"] as? String ?? "gelu"
        guard activation == "gelu" else {
            throw EmberError("\(url.path): unsupported hidden_act '\(activation)'; Ember implements BERT's erf GELU (\"gelu\")")
        }
        if let position = json["position_embedding_type"] as? String, position != "absolute" {
            throw EmberError("\(url.path): unsupported position_embedding_type '\(position)' (only \"absolute\")")
        }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let v = json[key] as? NSNumber, let i = Int(exactly: v.doubleValue), i > 0 { return i }
            if json[key] == nil, let fallback { return fallback }
            throw EmberError("\(url.path): missing or invalid '\(key)'")
        }
        func float(_ key: String, _ fallback: Float, in range: ClosedRange<Float>) throws -> Float {
            guard let value = json[key], !(value is NSNull) else { return fallback }
            guard let x = JSONField.number(value), range.contains(Float(x)) else {
                throw EmberError("\(url.path): '\(key)' must be a number in \(range.lowerBound)…\(range.upperBound), got \(value)")
            }
            return Float(x)
        }
        let config = BertConfig(
            vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
            numHiddenLayers: try int("num_hidden_layers"), numAttentionHeads: try int("num_attention_heads"),
            intermediateSize: try int("intermediate_size"), maxPositionEmbeddings: try int("max_position_embeddings", 512),
            typeVocabSize: try int("type_vocab_size", 2), layerNormEps: try float("layer_norm_eps", 1e-12, in: 1e-30...1),
            hiddenDropoutProb: try float("hidden_dropout_prob", 0.1, in: 0...0.999),
            attentionProbsDropoutProb: try float("attention_probs_dropout_prob", 0.1, in: 0...0.999))
        guard config.hiddenSize % config.numAttentionHeads == 0 else {
            throw EmberError("\(url.path): hidden_size \(config.hiddenSize) is not divisible by num_attention_heads \(config.numAttentionHeads)")
        }
        return config
    }
}

extension BertConfig {
    /// Floating-point operations of one encoder forward over sequences of `lengths` tokens: the linear
    /// layers' products (2 per multiply-add) and attention's QKᵀ and PV (2·L²·H each per layer).
    /// Elementwise work is not counted. A backward costs twice this.
    public func forwardFlops(lengths: [Int]) -> Double {
        let H = Double(hiddenSize), I = Double(intermediateSize)
        let linear = 2 * (4 * H * H + 2 * H * I)   // per token per layer: Q, K, V, attention output; intermediate, output
        let tokens = Double(lengths.reduce(0, +)), squares = Double(lengths.reduce(0) { $0 + $1 * $1 })
        return Double(numHiddenLayers) * (linear * tokens + 4 * H * squares)
    }
}
