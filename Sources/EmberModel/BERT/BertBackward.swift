import EmberCore

/// The encoder's backward pass: given dL/d(last hidden state) for a forward that kept its activations,
/// accumulates (+=) every parameter's gradient. Layers run in reverse; each step mirrors a line of
/// `layerForward` (dropout masks are regenerated from the same streams):
///   out = LN₂(a + drop(W_o·GELU(W_i·a)))        a = LN₁(x + drop(W_ao·Attn([W_q; W_k; W_v]·x)))
extension BertEncoder {
    /// Scratch gradients for one backward, [T × H] or [T × I].
    final class GradientBuffers {
        let dOut, dNormed, dSum, dContext: FloatBuffer
        let dQueryKeyValue: FloatBuffer   // [T × 3H]
        let dIntermediate: FloatBuffer
        init(tokens: Int, hidden: Int, intermediate: Int) {
            func b(_ n: Int) -> FloatBuffer { FloatBuffer(uninitializedCount: n) }  // each is written before it is read
            dOut = b(tokens * hidden); dNormed = b(tokens * hidden); dSum = b(tokens * hidden)
            dContext = b(tokens * hidden); dQueryKeyValue = b(tokens * 3 * hidden)
            dIntermediate = b(tokens * intermediate)
        }
    }

    /// `dHidden`: dL/d(last hidden state) [T × H]. Requires `forward(…, keepActivations: true)`.
    public func backward(_ acts: BertActivations, dHidden: UnsafePointer<Float>) {
        precondition(acts.keepsAll, "backward needs a forward with keepActivations: true")
        Profiler.measure("encoder backward") {
            let T = acts.sequences.tokenCount, H = config.hiddenSize
            let g = GradientBuffers(tokens: T, hidden: H, intermediate: config.intermediateSize)
            g.dOut.pointer.update(from: dHidden, count: T * H)
            for index in stride(from: weights.layers.count - 1, through: 0, by: -1) {
                let input = index == 0 ? acts.embeddingOutput.pointer : acts.layer(index - 1).output.pointer
                layerBackward(weights.layers[index], index: index, input: input, acts: acts.layer(index),
                              sequences: acts.sequences, dropout: acts.dropout, g: g)
            }
            embeddingsBackward(acts, dOutput: g.dOut.pointer)
        }
    }

    /// On entry g.dOut = dL/d(layer output); on exit g.dOut = dL/d(layer input).
    func layerBackward(_ w: BertLayerWeights, index: Int, input: UnsafePointer<Float>, acts a: BertLayerActivations,
                       sequences: PackedSequences, dropout: EncoderDropout?, g: GradientBuffers) {
        let T = sequences.tokenCount, H = config.hiddenSize, I = config.intermediateSize
        func denseBackward(_ l: LinearWeights, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                           dx: UnsafeMutablePointer<Float>?, accumulate: Bool = false) {
            Profiler.measure("linear backward") {
                Linear.backward(x, dy, rows: T, inFeatures: l.inFeatures, outFeatures: l.outFeatures,
                                weight: l.weight.value.pointer, dx: dx, accumulate: accumulate,
                                dWeight: l.weight.grad.pointer, dBias: l.bias.grad.pointer)
            }
        }
        func layerNormBackward(_ n: LayerNormWeights, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dx: UnsafeMutablePointer<Float>, mean: FloatBuffer, rstd: FloatBuffer) {
            Profiler.measure("layernorm backward") {
                LayerNorm.backward(x, dy, dx, rows: T, dim: H, gamma: n.weight.value.pointer, mean: mean.pointer,
                                   rstd: rstd.pointer, dGamma: n.weight.grad.pointer, dBeta: n.bias.grad.pointer)
            }
        }
        // out = LN₂(outputSum): dSum = dL/d(outputSum).
        layerNormBackward(w.outputLayerNorm, x: a.outputSum.pointer, dy: g.dOut.pointer, dx: g.dSum.pointer,
                          mean: a.outputMean, rstd: a.outputRstd)
        // outputSum = attentionNormed + drop(W_o·activated + b_o). The residual's share goes straight to dNormed.
        g.dNormed.pointer.update(from: g.dSum.pointer, count: T * H)
        dropout?.applyHidden(g.dSum.pointer, sequences: sequences, hidden: H, layer: index, site: .feedForwardOutput)
        denseBackward(w.output, x: a.activated.pointer, dy: g.dSum.pointer, dx: g.dIntermediate.pointer)
        Profiler.measure("gelu backward") {
            GELU.backward(a.intermediate.pointer, g.dIntermediate.pointer, g.dIntermediate.pointer, count: T * I)
        }
        denseBackward(w.intermediate, x: a.attentionNormed.pointer, dy: g.dIntermediate.pointer, dx: g.dNormed.pointer, accumulate: true)
        // attentionNormed = LN₁(attentionSum).
        layerNormBackward(w.attentionLayerNorm, x: a.attentionSum.pointer, dy: g.dNormed.pointer, dx: g.dSum.pointer,
                          mean: a.attentionMean, rstd: a.attentionRstd)
        // attentionSum = input + drop(W_ao·context + b_ao): the residual's share is the start of dInput.
        g.dOut.pointer.update(from: g.dSum.pointer, count: T * H)
        dropout?.applyHidden(g.dSum.pointer, sequences: sequences, hidden: H, layer: index, site: .attentionOutput)
        denseBackward(w.attentionOutput, x: a.context.pointer, dy: g.dSum.pointer, dx: g.dContext.pointer)
        Profiler.measure("attention backward") {
            let qkv = a.queryKeyValue.pointer, dqkv = g.dQueryKeyValue.pointer
            PackedAttention.backward(q: qkv, k: qkv + H, v: qkv + 2 * H, ld: 3 * H, probs: a.probs.pointer,
                                     dctx: g.dContext.pointer, dq: dqkv, dk: dqkv + H, dv: dqkv + 2 * H,
                                     sequences: sequences, heads: config.numAttentionHeads, hidden: H,
                                     dropout: dropout?.attention(layer: index))
        }
        denseBackward(w.queryKeyValue, x: input, dy: g.dQueryKeyValue.pointer, dx: g.dOut.pointer, accumulate: true)
        // The key bias adds q·b_k to every score of a query's row, which softmax ignores: its gradient is
        // exactly 0, and the column sums of dK above only gather rounding noise (~1e-9). AdamW would turn that
        // noise into steps whose sign depends on the summation order — on the mini-batch size, the number of
        // ranks — so the saved weights would differ by run layout in a tensor that cannot change any output.
        // The true gradient, 0, is stored instead (BackwardTests checks it against finite differences).
        (w.queryKeyValue.bias.grad.pointer + H).update(repeating: 0, count: H)
    }

    /// embeddingOutput = drop(LN(word[id] + position[p] + tokenType[0])): scatter the gradient into the
    /// rows that were used.
    func embeddingsBackward(_ acts: BertActivations, dOutput: UnsafeMutablePointer<Float>) {
        let T = acts.sequences.tokenCount, H = config.hiddenSize, e = weights.embeddings
        acts.dropout?.applyHidden(dOutput, sequences: acts.sequences, hidden: H, layer: 0, site: .embeddings)
        let dSum = FloatBuffer(uninitializedCount: T * H)
        LayerNorm.backward(acts.embeddingSum.pointer, dOutput, dSum.pointer, rows: T, dim: H,
                           gamma: e.layerNorm.weight.value.pointer, mean: acts.embeddingMean.pointer,
                           rstd: acts.embeddingRstd.pointer, dGamma: e.layerNorm.weight.grad.pointer,
                           dBeta: e.layerNorm.bias.grad.pointer)
        let dWord = e.wordEmbeddings.grad.pointer, dPosition = e.positionEmbeddings.grad.pointer
        let dType = e.tokenTypeEmbeddings.grad.pointer
        for s in 0..<acts.sequences.count {
            let o = acts.sequences.offsets[s]
            for p in 0..<acts.sequences.lengths[s] {
                let row = dSum.pointer + (o + p) * H
                Elementwise.addScaled(row, alpha: 1, into: dWord + Int(acts.tokenIds[o + p]) * H, count: H)
                Elementwise.addScaled(row, alpha: 1, into: dPosition + p * H, count: H)
                Elementwise.addScaled(row, alpha: 1, into: dType, count: H)
            }
        }
    }
}
