import EmberCore
import Foundation

/// What a training forward keeps so `SentenceModel.backward` can run: the encoder's activations and the
/// pooled embeddings before Normalize.
public final class EmbeddingTape {
    public let activations: BertActivations
    let pooled: FloatBuffer
    /// The leading tokens the forward masked out of pooling (include_prompt false), for the backward.
    let promptLength: Int
    init(activations: BertActivations, pooled: FloatBuffer, promptLength: Int) {
        self.activations = activations
        self.pooled = pooled
        self.promptLength = promptLength
    }
}

extension SentenceModel {
    /// The training forward: embeddings [N × D] through the whole pipeline with `dropout`, plus a tape for
    /// `backward` when `keepActivations` (GradCache's stage 1 runs without, stage 3 with — same masks).
    /// `promptLength` (from `promptLength(_:)`) masks a prompt out of pooling in both passes.
    public func embedForTraining(_ tokenized: [[Int32]], dropout: EncoderDropout?, keepActivations: Bool,
                                 promptLength: Int = 0) -> (FloatBuffer, EmbeddingTape?) {
        let acts = encoder.forward(tokenized, keepActivations: keepActivations, dropout: dropout)
        let pooled = FloatBuffer(count: tokenized.count * embeddingDimension)
        pooling.forward(acts.lastHiddenState, sequences: acts.sequences, pooled.pointer, excludingLeading: promptLength)
        let out = normalize ? pooled.copy() : pooled
        if normalize { Normalize.forward(out.pointer, rows: tokenized.count, dim: embeddingDimension) }
        return (out, keepActivations ? EmbeddingTape(activations: acts, pooled: pooled, promptLength: promptLength) : nil)
    }

    /// Accumulates every parameter's gradient given dL/d(embeddings) [N × D] for a taped forward.
    public func backward(_ tape: EmbeddingTape, dEmbeddings: UnsafePointer<Float>) {
        let acts = tape.activations
        let N = acts.sequences.count, D = embeddingDimension
        var dPooled = dEmbeddings
        let normalized = FloatBuffer(count: normalize ? N * D : 0)
        if normalize {
            Normalize.backward(tape.pooled.pointer, dEmbeddings, normalized.pointer, rows: N, dim: D)
            dPooled = UnsafePointer(normalized.pointer)
        }
        let dHidden = FloatBuffer(count: acts.sequences.tokenCount * config.hiddenSize)
        pooling.backward(acts.lastHiddenState, sequences: acts.sequences, dPooled: dPooled, dHidden: dHidden.pointer,
                         excludingLeading: tape.promptLength)
        encoder.backward(acts, dHidden: dHidden.pointer)
    }

    /// The model's trainable parameters (the encoder's; pooling and Normalize have none).
    public var parameters: [Parameter] { weights.parameters }
}
