import EmberCore

/// What one encoder layer's forward keeps for its backward, in the packed [T × …] layout.
/// In inference a single instance is reused by every layer (each layer's output overwrites the buffer
/// its input came from only after the input was last read).
public final class BertLayerActivations {
    let queryKeyValue: FloatBuffer                      // [T × 3H]: query | key | value per row
    let context: FloatBuffer                            // [T × H]
    let attentionSum: FloatBuffer                        // attention.output.dense(context) + input, pre-LayerNorm
    let attentionNormed: FloatBuffer                     // attention.output.LayerNorm output [T × H]
    let attentionMean, attentionRstd: FloatBuffer        // [T]
    let intermediate: FloatBuffer                        // intermediate.dense output, pre-GELU [T × I]
    let activated: FloatBuffer                           // GELU output [T × I]
    let outputSum: FloatBuffer                           // output.dense(activated) + attentionNormed [T × H]
    let output: FloatBuffer                              // output.LayerNorm output [T × H]
    let outputMean, outputRstd: FloatBuffer              // [T]
    let probs: FloatBuffer                               // heads · Σ L² attention probabilities

    init(tokens: Int, hidden: Int, intermediateSize: Int, heads: Int, scoreCount: Int) {
        func b(_ n: Int) -> FloatBuffer { FloatBuffer(uninitializedCount: n) }  // fully written by the forward
        queryKeyValue = b(tokens * 3 * hidden); context = b(tokens * hidden)
        attentionSum = b(tokens * hidden); attentionNormed = b(tokens * hidden)
        attentionMean = b(tokens); attentionRstd = b(tokens)
        intermediate = b(tokens * intermediateSize); activated = b(tokens * intermediateSize)
        outputSum = b(tokens * hidden); output = b(tokens * hidden)
        outputMean = b(tokens); outputRstd = b(tokens)
        probs = b(heads * scoreCount)
    }
}

/// Activations of a whole encoder forward over one packed batch.
public final class BertActivations {
    public let sequences: PackedSequences
    public let tokenIds: [Int32]
    let embeddingSum: FloatBuffer        // word + position + token type, pre-LayerNorm [T × H]
    let embeddingOutput: FloatBuffer     // embeddings.LayerNorm output [T × H]
    let embeddingMean, embeddingRstd: FloatBuffer
    /// One entry per layer when kept for a backward, a single shared entry in inference.
    let layers: [BertLayerActivations]
    public let keepsAll: Bool
    /// The dropout the forward applied (the backward regenerates its masks).
    public let dropout: EncoderDropout?

    init(config: BertConfig, tokenIds: [Int32], sequences: PackedSequences, keepAll: Bool, dropout: EncoderDropout?) {
        self.dropout = dropout
        self.sequences = sequences
        self.tokenIds = tokenIds
        let T = sequences.tokenCount, H = config.hiddenSize
        embeddingSum = FloatBuffer(uninitializedCount: T * H); embeddingOutput = FloatBuffer(uninitializedCount: T * H)
        embeddingMean = FloatBuffer(uninitializedCount: T); embeddingRstd = FloatBuffer(uninitializedCount: T)
        keepsAll = keepAll
        layers = (0..<(keepAll ? config.numHiddenLayers : 1)).map { _ in
            BertLayerActivations(tokens: T, hidden: H, intermediateSize: config.intermediateSize,
                                 heads: config.numAttentionHeads, scoreCount: sequences.scoreCount)
        }
    }

    /// Bytes a forward with `keepAll` holds for sequences of `lengths` tokens (the buffers allocated above):
    /// what GradCache's activation budget counts per kept mini-batch.
    public static func keptBytes(config: BertConfig, lengths: [Int]) -> Int {
        let T = lengths.reduce(0, +), H = config.hiddenSize, I = config.intermediateSize
        let scores = lengths.reduce(0) { $0 + $1 * $1 }
        let perLayer = T * (8 * H + 2 * I + 4) + config.numAttentionHeads * scores
        return 4 * (config.numHiddenLayers * perLayer + T * (2 * H + 2))
    }

    func layer(_ index: Int) -> BertLayerActivations { layers[keepsAll ? index : 0] }

    /// The encoder's last hidden state [T × H].
    public var lastHiddenState: UnsafeMutablePointer<Float> { layers[layers.count - 1].output.pointer }
}
