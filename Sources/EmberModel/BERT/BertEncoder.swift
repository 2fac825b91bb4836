import EmberCore

/// The BERT encoder forward over packed sequences (no padding, no attention mask):
///   x = LayerNorm(word[id] + position[p] + tokenType[0])
///   per layer: a = LayerNorm(x + Dense(Attention(x)));  x = LayerNorm(a + Dense(GELU(Dense(a))))
/// Every matrix product is one `sgemm` over all T tokens of the batch; attention runs per sequence.
public final class BertEncoder {
    public let weights: BertWeights
    public var config: BertConfig { weights.config }

    public init(weights: BertWeights) { self.weights = weights }

    /// Runs the encoder over `sequences` (token ids, each ≤ max_position_embeddings long).
    /// `keepActivations` keeps every layer's intermediates for a backward pass; otherwise one layer's
    /// worth of buffers is reused through the stack.
    public func forward(_ sequences: [[Int32]], keepActivations: Bool = false) -> BertActivations {
        Profiler.measure("encoder forward") { forwardUnprofiled(sequences, keepActivations: keepActivations) }
    }

    func forwardUnprofiled(_ sequences: [[Int32]], keepActivations: Bool) -> BertActivations {
        let packed = PackedSequences(lengths: sequences.map(\.count))
        let ids = sequences.flatMap { $0 }
        let acts = BertActivations(config: config, tokenIds: ids, sequences: packed, keepAll: keepActivations)
        embeddingsForward(acts)
        var input = acts.embeddingOutput.pointer
        for (index, layer) in weights.layers.enumerated() {
            let a = acts.layer(index)
            layerForward(layer, input: input, acts: a, sequences: packed)
            input = a.output.pointer
        }
        return acts
    }

    func embeddingsForward(_ acts: BertActivations) {
        let H = config.hiddenSize, e = weights.embeddings
        let word = e.wordEmbeddings.value.pointer, position = e.positionEmbeddings.value.pointer
        let tokenType = e.tokenTypeEmbeddings.value.pointer   // all tokens are segment 0
        let sum = acts.embeddingSum.pointer
        for s in 0..<acts.sequences.count {
            let o = acts.sequences.offsets[s]
            for p in 0..<acts.sequences.lengths[s] {
                let row = sum + (o + p) * H
                Elementwise.add(word + Int(acts.tokenIds[o + p]) * H, position + p * H, row, count: H)
                Elementwise.add(row, tokenType, row, count: H)
            }
        }
        LayerNorm.forward(sum, acts.embeddingOutput.pointer, rows: acts.sequences.tokenCount, dim: H,
                          gamma: e.layerNorm.weight.value.pointer, beta: e.layerNorm.bias.value.pointer,
                          eps: config.layerNormEps, mean: acts.embeddingMean.pointer, rstd: acts.embeddingRstd.pointer)
    }

    func layerForward(_ w: BertLayerWeights, input: UnsafeMutablePointer<Float>, acts a: BertLayerActivations,
                      sequences: PackedSequences) {
        let T = sequences.tokenCount, H = config.hiddenSize, I = config.intermediateSize
        func dense(_ l: LinearWeights, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
            Profiler.measure("linear forward") {
                Linear.forward(x, rows: T, inFeatures: l.inFeatures, outFeatures: l.outFeatures,
                               weight: l.weight.value.pointer, bias: l.bias.value.pointer, y)
            }
        }
        dense(w.query, input, a.q.pointer)
        dense(w.key, input, a.k.pointer)
        dense(w.value, input, a.v.pointer)
        Profiler.measure("attention forward") {
            PackedAttention.forward(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, ctx: a.context.pointer,
                                    probs: a.probs.pointer, sequences: sequences, heads: config.numAttentionHeads, hidden: H)
        }
        dense(w.attentionOutput, a.context.pointer, a.attentionSum.pointer)
        Elementwise.add(a.attentionSum.pointer, input, a.attentionSum.pointer, count: T * H)
        Profiler.measure("layernorm forward") { LayerNorm.forward(a.attentionSum.pointer, a.attentionNormed.pointer, rows: T, dim: H,
                          gamma: w.attentionLayerNorm.weight.value.pointer, beta: w.attentionLayerNorm.bias.value.pointer,
                          eps: config.layerNormEps, mean: a.attentionMean.pointer, rstd: a.attentionRstd.pointer) }
        dense(w.intermediate, a.attentionNormed.pointer, a.intermediate.pointer)
        Profiler.measure("gelu forward") { GELU.forward(a.intermediate.pointer, a.activated.pointer, count: T * I) }
        dense(w.output, a.activated.pointer, a.outputSum.pointer)
        Elementwise.add(a.outputSum.pointer, a.attentionNormed.pointer, a.outputSum.pointer, count: T * H)
        Profiler.measure("layernorm forward") { LayerNorm.forward(a.outputSum.pointer, a.output.pointer, rows: T, dim: H,
                          gamma: w.outputLayerNorm.weight.value.pointer, beta: w.outputLayerNorm.bias.value.pointer,
                          eps: config.layerNormEps, mean: a.outputMean.pointer, rstd: a.outputRstd.pointer) }
    }
}
