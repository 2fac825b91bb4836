import EmberCore

/// The BERT encoder forward over packed sequences (no padding, no attention mask):
///   x = LayerNorm(word[id] + position[p] + tokenType[0])
///   per layer: a = LayerNorm(x + Dense(Attention(x)));  x = LayerNorm(a + Dense(GELU(Dense(a))))
/// Every matrix product is one `sgemm` over all T tokens of the batch; attention runs per sequence.
/// Training adds dropout (replayable, see `EncoderDropout`) and keeps activations for `backward`
/// (BertBackward.swift), which runs the same layers in reverse.
public final class BertEncoder {
    public let weights: BertWeights
    public var config: BertConfig { weights.config }

    public init(weights: BertWeights) { self.weights = weights }

    /// Runs the encoder over `sequences` (token ids, each ≤ max_position_embeddings long).
    /// `keepActivations` keeps every layer's intermediates for a backward pass; otherwise one layer's
    /// worth of buffers is reused through the stack.
    /// `dropout`, when given, applies BERT's four dropout sites with masks derived from each sequence's key.
    public func forward(_ sequences: [[Int32]], keepActivations: Bool = false, dropout: EncoderDropout? = nil) -> BertActivations {
        Profiler.measure("encoder forward") { forwardUnprofiled(sequences, keepActivations: keepActivations, dropout: dropout) }
    }

    func forwardUnprofiled(_ sequences: [[Int32]], keepActivations: Bool, dropout: EncoderDropout?) -> BertActivations {
        let packed = PackedSequences(lengths: sequences.map(\.count))
        let ids = sequences.flatMap { $0 }
        precondition(dropout == nil || dropout!.sequenceKeys.count == sequences.count, "one dropout key per sequence")
        let acts = BertActivations(config: config, tokenIds: ids, sequences: packed, keepAll: keepActivations,
                                   dropout: dropout?.isActive == true ? dropout : nil)
        embeddingsForward(acts)
        var input = acts.embeddingOutput.pointer
        for (index, layer) in weights.layers.enumerated() {
            let a = acts.layer(index)
            layerForward(layer, index: index, input: input, acts: a, sequences: packed, dropout: acts.dropout)
            input = a.output.pointer
        }
        return acts
    }

    func embeddingsForward(_ acts: BertActivations) {
        let H = config.hiddenSize, e = weights.embeddings
        let word = e.wordEmbeddings.value.pointer, position = e.positionEmbeddings.value.pointer
        let tokenType = e.tokenTypeEmbeddings.value.pointer   // all tokens are segment 0
        let sum = acts.embeddingSum.pointer
        // Ids and positions index the tables: out of range would read past them (a precondition per
        // token costs nothing measurable next to the H-wide adds).
        let vocabulary = config.vocabSize, positions = config.maxPositionEmbeddings
        for s in 0..<acts.sequences.count {
            let o = acts.sequences.offsets[s]
            precondition(acts.sequences.lengths[s] <= positions, "sequence of \(acts.sequences.lengths[s]) tokens exceeds max_position_embeddings \(positions)")
            for p in 0..<acts.sequences.lengths[s] {
                let row = sum + (o + p) * H
                let id = Int(acts.tokenIds[o + p])
                precondition(id >= 0 && id < vocabulary, "token id \(id) outside the vocabulary of \(vocabulary) rows")
                Elementwise.add(word + id * H, position + p * H, row, count: H)
                Elementwise.add(row, tokenType, row, count: H)
            }
        }
        LayerNorm.forward(sum, acts.embeddingOutput.pointer, rows: acts.sequences.tokenCount, dim: H,
                          gamma: e.layerNorm.weight.value.pointer, beta: e.layerNorm.bias.value.pointer,
                          eps: config.layerNormEps, mean: acts.embeddingMean.pointer, rstd: acts.embeddingRstd.pointer)
        acts.dropout?.applyHidden(acts.embeddingOutput.pointer, sequences: acts.sequences, hidden: H, layer: 0, site: .embeddings)
    }

    func layerForward(_ w: BertLayerWeights, index: Int, input: UnsafeMutablePointer<Float>, acts a: BertLayerActivations,
                      sequences: PackedSequences, dropout: EncoderDropout?) {
        let T = sequences.tokenCount, H = config.hiddenSize, I = config.intermediateSize
        func dense(_ l: LinearWeights, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
            Profiler.measure("linear forward") {
                Linear.forward(x, rows: T, inFeatures: l.inFeatures, outFeatures: l.outFeatures,
                               weight: l.weight.value.pointer, bias: l.bias.value.pointer, y)
            }
        }
        dense(w.queryKeyValue, input, a.queryKeyValue.pointer)
        Profiler.measure("attention forward") {
            let qkv = a.queryKeyValue.pointer
            PackedAttention.forward(q: qkv, k: qkv + H, v: qkv + 2 * H, ld: 3 * H, ctx: a.context.pointer,
                                    probs: a.probs.pointer, sequences: sequences, heads: config.numAttentionHeads, hidden: H,
                                    dropout: dropout?.attention(layer: index))
        }
        dense(w.attentionOutput, a.context.pointer, a.attentionSum.pointer)
        dropout?.applyHidden(a.attentionSum.pointer, sequences: sequences, hidden: H, layer: index, site: .attentionOutput)
        Elementwise.add(a.attentionSum.pointer, input, a.attentionSum.pointer, count: T * H)
        Profiler.measure("layernorm forward") { LayerNorm.forward(a.attentionSum.pointer, a.attentionNormed.pointer, rows: T, dim: H,
                          gamma: w.attentionLayerNorm.weight.value.pointer, beta: w.attentionLayerNorm.bias.value.pointer,
                          eps: config.layerNormEps, mean: a.attentionMean.pointer, rstd: a.attentionRstd.pointer) }
        dense(w.intermediate, a.attentionNormed.pointer, a.intermediate.pointer)
        Profiler.measure("gelu forward") { GELU.forward(a.intermediate.pointer, a.activated.pointer, count: T * I) }
        dense(w.output, a.activated.pointer, a.outputSum.pointer)
        dropout?.applyHidden(a.outputSum.pointer, sequences: sequences, hidden: H, layer: index, site: .feedForwardOutput)
        Elementwise.add(a.outputSum.pointer, a.attentionNormed.pointer, a.outputSum.pointer, count: T * H)
        Profiler.measure("layernorm forward") { LayerNorm.forward(a.outputSum.pointer, a.output.pointer, rows: T, dim: H,
                          gamma: w.outputLayerNorm.weight.value.pointer, beta: w.outputLayerNorm.bias.value.pointer,
                          eps: config.layerNormEps, mean: a.outputMean.pointer, rstd: a.outputRstd.pointer) }
    }
}

/// Dropout for one encoder pass: BERT's hidden dropout (after the embeddings' LayerNorm, after the
/// attention output projection, after the feed-forward output projection) and attention-probability
/// dropout. Each sequence carries a key (from seed, step, column and row — `DropoutStreams.sequenceKey`);
/// masks are pure functions of that key, so a replay or a backward regenerates them exactly.
public struct EncoderDropout {
    public let hiddenProbability: Float
    public let attentionProbability: Float
    public let sequenceKeys: [UInt64]

    public init(hiddenProbability: Float, attentionProbability: Float, sequenceKeys: [UInt64]) {
        self.hiddenProbability = hiddenProbability
        self.attentionProbability = attentionProbability
        self.sequenceKeys = sequenceKeys
    }

    var isActive: Bool { hiddenProbability > 0 || attentionProbability > 0 }

    /// Applies (forward) or back-propagates (same operation) hidden dropout on a packed [T × H] buffer.
    func applyHidden(_ x: UnsafeMutablePointer<Float>, sequences: PackedSequences, hidden: Int, layer: Int,
                     site: DropoutStreams.Site) {
        guard hiddenProbability > 0 else { return }
        parallelFor(sequences.count) { s in
            Dropout.apply(x + sequences.offsets[s] * hidden, count: sequences.lengths[s] * hidden,
                          probability: hiddenProbability,
                          stream: DropoutStreams.stream(sequenceKeys[s], layer: layer, site: site))
        }
    }

    func attention(layer: Int) -> AttentionDropout? {
        guard attentionProbability > 0 else { return nil }
        let keys = sequenceKeys
        return AttentionDropout(probability: attentionProbability) { s, h in
            DropoutStreams.stream(keys[s], layer: layer, site: .attentionProbabilities, head: h)
        }
    }
}
