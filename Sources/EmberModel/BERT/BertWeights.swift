import EmberCore
import Foundation

/// A linear layer's parameters, named as in the checkpoint (`<prefix>.weight` [out × in], `<prefix>.bias`).
public struct LinearWeights {
    public let weight: Parameter
    public let bias: Parameter
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }
}

/// A LayerNorm's parameters (`<prefix>.weight` = γ, `<prefix>.bias` = β).
public struct LayerNormWeights {
    public let weight: Parameter
    public let bias: Parameter
}

/// `embeddings.*` of a BertModel checkpoint.
public struct BertEmbeddingsWeights {
    public let wordEmbeddings: Parameter        // embeddings.word_embeddings.weight [vocab × H]
    public let positionEmbeddings: Parameter    // embeddings.position_embeddings.weight [P × H]
    public let tokenTypeEmbeddings: Parameter   // embeddings.token_type_embeddings.weight [types × H]
    public let layerNorm: LayerNormWeights      // embeddings.LayerNorm
}

/// `encoder.layer.N.*` of a BertModel checkpoint.
public struct BertLayerWeights {
    public let query, key, value: LinearWeights  // attention.self.{query,key,value}: views into `queryKeyValue`
    /// The three projections as one [3H × H] weight and [3H] bias (rows: query, key, value), with fused
    /// gradients: one `sgemm` instead of three, forward and backward. The named parameters above view
    /// slices of it, so checkpoints, optimiser state and tests see the usual per-tensor names.
    public let queryKeyValue: LinearWeights
    public let attentionOutput: LinearWeights     // attention.output.dense
    public let attentionLayerNorm: LayerNormWeights // attention.output.LayerNorm
    public let intermediate: LinearWeights        // intermediate.dense
    public let output: LinearWeights              // output.dense
    public let outputLayerNorm: LayerNormWeights  // output.LayerNorm
}

/// All weights of a BERT encoder, with module names mirroring the checkpoint keys. Tensors the encoder
/// does not use (the pooler, for instance) are kept in `extraTensors` so a saved model round-trips.
public final class BertWeights {
    public let config: BertConfig
    public let embeddings: BertEmbeddingsWeights
    public let layers: [BertLayerWeights]
    public let extraTensors: [String: Tensor]
    /// "bert." when the checkpoint was saved from a BertFor… head model, "" for a plain BertModel.
    public let keyPrefix: String

    /// Every trainable parameter, in checkpoint-key order of appearance.
    public var parameters: [Parameter] {
        var all = [embeddings.wordEmbeddings, embeddings.positionEmbeddings, embeddings.tokenTypeEmbeddings,
                   embeddings.layerNorm.weight, embeddings.layerNorm.bias]
        for layer in layers {
            for linear in [layer.query, layer.key, layer.value, layer.attentionOutput] { all += [linear.weight, linear.bias] }
            all += [layer.attentionLayerNorm.weight, layer.attentionLayerNorm.bias]
            for linear in [layer.intermediate, layer.output] { all += [linear.weight, linear.bias] }
            all += [layer.outputLayerNorm.weight, layer.outputLayerNorm.bias]
        }
        return all
    }

    init(config: BertConfig, embeddings: BertEmbeddingsWeights, layers: [BertLayerWeights],
         extraTensors: [String: Tensor], keyPrefix: String) {
        self.config = config
        self.embeddings = embeddings
        self.layers = layers
        self.extraTensors = extraTensors
        self.keyPrefix = keyPrefix
    }

    public init(config: BertConfig, tensors: [String: Tensor], source: String) throws {
        self.config = config
        // NaN/Inf weights would encode every text to NaN: refuse them at load, naming the tensor.
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            if let bad = tensor.data.firstNonFinite() {
                throw EmberError("\(source): tensor '\(name)' holds a non-finite value (\(tensor.data.pointer[bad]) at index \(bad))")
            }
        }
        let prefix = tensors.keys.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        keyPrefix = prefix
        var used = Set<String>()
        let H = config.hiddenSize, I = config.intermediateSize
        func take(_ name: String, _ shape: [Int]) throws -> Parameter {
            let key = prefix + name
            guard let tensor = tensors[key] else { throw EmberError("\(source): missing tensor '\(key)'") }
            guard tensor.shape == shape else {
                throw EmberError("\(source): tensor '\(key)' has shape \(tensor.shape), config.json implies \(shape)")
            }
            used.insert(key)
            return Parameter(name: name, shape: shape, value: tensor.data)
        }
        func linear(_ name: String, out: Int, in inFeatures: Int) throws -> LinearWeights {
            LinearWeights(weight: try take(name + ".weight", [out, inFeatures]), bias: try take(name + ".bias", [out]))
        }
        /// Loads query, key and value into one fused block and returns named views of it.
        func fusedQueryKeyValue(_ prefix: String) throws -> (LinearWeights, LinearWeights, LinearWeights, LinearWeights) {
            let parts = try ["query", "key", "value"].map { try linear(prefix + "attention.self." + $0, out: H, in: H) }
            let weight = FloatBuffer(count: 3 * H * H), bias = FloatBuffer(count: 3 * H)
            let weightGrad = FloatBuffer(count: 3 * H * H), biasGrad = FloatBuffer(count: 3 * H)
            var views: [LinearWeights] = []
            for (i, part) in parts.enumerated() {
                (weight.pointer + i * H * H).update(from: part.weight.value.pointer, count: H * H)
                (bias.pointer + i * H).update(from: part.bias.value.pointer, count: H)
                views.append(LinearWeights(
                    weight: Parameter(name: part.weight.name, shape: [H, H], value: FloatBuffer(viewing: weight, offset: i * H * H, count: H * H),
                                      grad: FloatBuffer(viewing: weightGrad, offset: i * H * H, count: H * H)),
                    bias: Parameter(name: part.bias.name, shape: [H], value: FloatBuffer(viewing: bias, offset: i * H, count: H),
                                    grad: FloatBuffer(viewing: biasGrad, offset: i * H, count: H))))
            }
            let fused = LinearWeights(weight: Parameter(name: prefix + "attention.self.qkv.weight", shape: [3 * H, H], value: weight, grad: weightGrad),
                                      bias: Parameter(name: prefix + "attention.self.qkv.bias", shape: [3 * H], value: bias, grad: biasGrad))
            return (views[0], views[1], views[2], fused)
        }
        func norm(_ name: String) throws -> LayerNormWeights {
            LayerNormWeights(weight: try take(name + ".weight", [H]), bias: try take(name + ".bias", [H]))
        }
        embeddings = BertEmbeddingsWeights(
            wordEmbeddings: try take("embeddings.word_embeddings.weight", [config.vocabSize, H]),
            positionEmbeddings: try take("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, H]),
            tokenTypeEmbeddings: try take("embeddings.token_type_embeddings.weight", [config.typeVocabSize, H]),
            layerNorm: try norm("embeddings.LayerNorm"))
        layers = try (0..<config.numHiddenLayers).map { n in
            let p = "encoder.layer.\(n)."
            let (query, key, value, fused) = try fusedQueryKeyValue(p)
            return BertLayerWeights(
                query: query, key: key, value: value, queryKeyValue: fused,
                attentionOutput: try linear(p + "attention.output.dense", out: H, in: H),
                attentionLayerNorm: try norm(p + "attention.output.LayerNorm"),
                intermediate: try linear(p + "intermediate.dense", out: I, in: H),
                output: try linear(p + "output.dense", out: H, in: I),
                outputLayerNorm: try norm(p + "output.LayerNorm"))
        }
        extraTensors = tensors.filter { !used.contains($0.key) }
    }

    /// Loads `model.safetensors` from a folder.
    public static func load(folder: URL, config: BertConfig) throws -> BertWeights {
        let file = folder.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: file.path) else {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("pytorch_model.bin").path) {
                throw EmberError("\(folder.path): has only pytorch_model.bin; Ember reads model.safetensors (convert the checkpoint with safetensors first)")
            }
            throw EmberError("\(file.path): missing model weights (model.safetensors)")
        }
        return try BertWeights(config: config, tensors: SafeTensors.read(file), source: file.path)
    }

    /// All tensors under their checkpoint keys (parameters first, then the untouched extras).
    public func checkpointTensors() -> [String: Tensor] {
        var out = extraTensors
        for p in parameters { out[keyPrefix + p.name] = Tensor(shape: p.shape, data: p.value) }
        return out
    }
}
