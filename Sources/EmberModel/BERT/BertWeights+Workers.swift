import EmberCore

extension Parameter {
    /// The same values (shared buffer) with a separate, zeroed gradient (`grad`: a view into a fused block).
    func sharingValue(grad: FloatBuffer? = nil) -> Parameter {
        Parameter(name: name, shape: shape, value: value, grad: grad ?? FloatBuffer(count: count))
    }
}

extension BertWeights {
    /// A second view of these weights for another worker thread (`CoreWorkers`): every value buffer is
    /// shared — the optimiser's updates reach both — and every gradient is the copy's own, so two workers
    /// can back-propagate different mini-batches at once; the engine then sums the copies' gradients into
    /// this one's in a fixed order. The fused query/key/value block keeps its named views, as at load.
    public func sharingValues() -> BertWeights {
        func linear(_ l: LinearWeights) -> LinearWeights {
            LinearWeights(weight: l.weight.sharingValue(), bias: l.bias.sharingValue())
        }
        func norm(_ n: LayerNormWeights) -> LayerNormWeights {
            LayerNormWeights(weight: n.weight.sharingValue(), bias: n.bias.sharingValue())
        }
        let e = embeddings
        let copiedEmbeddings = BertEmbeddingsWeights(
            wordEmbeddings: e.wordEmbeddings.sharingValue(), positionEmbeddings: e.positionEmbeddings.sharingValue(),
            tokenTypeEmbeddings: e.tokenTypeEmbeddings.sharingValue(), layerNorm: norm(e.layerNorm))
        let copiedLayers = layers.map { layer -> BertLayerWeights in
            let fused = linear(layer.queryKeyValue)
            let H = layer.query.bias.count
            let views = [layer.query, layer.key, layer.value].enumerated().map { i, part in
                LinearWeights(weight: part.weight.sharingValue(grad: FloatBuffer(viewing: fused.weight.grad, offset: i * H * H, count: H * H)),
                              bias: part.bias.sharingValue(grad: FloatBuffer(viewing: fused.bias.grad, offset: i * H, count: H)))
            }
            return BertLayerWeights(query: views[0], key: views[1], value: views[2], queryKeyValue: fused,
                                    attentionOutput: linear(layer.attentionOutput), attentionLayerNorm: norm(layer.attentionLayerNorm),
                                    intermediate: linear(layer.intermediate), output: linear(layer.output),
                                    outputLayerNorm: norm(layer.outputLayerNorm))
        }
        return BertWeights(config: config, embeddings: copiedEmbeddings, layers: copiedLayers,
                           extraTensors: extraTensors, keyPrefix: keyPrefix)
    }
}
