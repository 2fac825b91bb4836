import EmberCore
import EmberLosses
import EmberModel

/// One contrastive batch, tokenized: `columns[c][i]` is row i of column c (column 0 anchors, 1
/// positives, 2… hard negatives); `texts` are the raw strings (the guide model tokenizes them itself).
public struct TokenizedBatch {
    public let columns: [[[Int32]]]
    public let texts: [[String]]
    public init(columns: [[[Int32]]], texts: [[String]]) {
        self.columns = columns
        self.texts = texts
    }
    public var rows: Int { columns.first?.count ?? 0 }
}

/// The result of one forward/backward over a batch.
public struct StepResult {
    public let loss: Double
    public let components: [String: Double]
}

/// The embedding stage of training, shared by every loss. Either plain — each column embedded with
/// activations kept, loss, backward — or GradCache (Gao et al. 2021) in three explicit stages:
///   1. `embedColumns`: embed every mini-batch of every column without keeping activations;
///   2. `lossStage`: the loss and dL/dE on the cached embeddings, chunked over anchor rows;
///   3. `replay`: re-run each mini-batch with activations (identical dropout masks: they are functions of
///      (seed, step, column, row)) and back-propagate its slice of dL/dE.
/// A data-parallel version gathers the embeddings of all ranks between stages 1 and 2 and scatters the
/// gradients back before stage 3; the stages take and return plain matrices so that step slots in.
/// Both paths give the same loss and parameter gradients: caching changes memory, not mathematics.
public final class GradCacheEngine {
    public let model: SentenceModel
    public let loss: EmbeddingLoss
    public let guide: GuideEmbedder?
    public let miniBatching: MiniBatching
    public let hiddenDropout: Float
    public let attentionDropout: Float
    public let seed: UInt64
    /// Per column, the prompt tokens masked out of pooling (include_prompt false, `ember train --prompts`);
    /// empty or 0 for none. The same in stage 1 and the replay, so cached and replayed embeddings agree.
    public var promptLengths: [Int] = []

    func promptLength(column c: Int) -> Int { c < promptLengths.count ? promptLengths[c] : 0 }

    public init(model: SentenceModel, loss: EmbeddingLoss, guide: GuideEmbedder? = nil, miniBatching: MiniBatching,
                hiddenDropout: Float, attentionDropout: Float, seed: UInt64) throws {
        if loss.needsGuide && guide == nil { throw EmberError("--guide: the \(loss.name) loss needs a guide model") }
        self.model = model
        self.loss = loss
        self.guide = guide
        self.miniBatching = miniBatching
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.seed = seed
    }

    /// Dropout for rows `range` of `column` at `step` (nil when dropout is off).
    func dropout(step: Int, column: Int, range: Range<Int>) -> EncoderDropout? {
        guard hiddenDropout > 0 || attentionDropout > 0 else { return nil }
        return EncoderDropout(hiddenProbability: hiddenDropout, attentionProbability: attentionDropout,
                              sequenceKeys: range.map { DropoutStreams.sequenceKey(seed: seed, step: step, column: column, row: $0) })
    }

    /// Forward + backward of one batch. Parameter gradients are accumulated (+=) scaled by `gradientScale`
    /// (1/accumulation steps); the returned loss is unscaled.
    public func step(_ batch: TokenizedBatch, step: Int, gradientScale: Float = 1) throws -> StepResult {
        let guideEmbeddings = try guide.map { g in try batch.texts.map { try g.embed($0) } }
        if !miniBatching.isCached {
            return try plainStep(batch, step: step, guide: guideEmbeddings, gradientScale: gradientScale)
        }
        let ranges = batch.columns.map { miniBatching.ranges(lengths: $0.map(\.count)) }
        let embeddings = Profiler.measure("stage 1: embed") { embedColumns(batch, ranges: ranges, step: step) }
        let output = try Profiler.measure("stage 2: loss") {
            try lossStage(embeddings, guide: guideEmbeddings, step: step)
        }
        Profiler.measure("stage 3: replay") {
            replay(batch, ranges: ranges, gradients: output.gradients, step: step, gradientScale: gradientScale)
        }
        return StepResult(loss: output.loss, components: output.components)
    }

    /// Plain training: all columns' activations alive at once.
    func plainStep(_ batch: TokenizedBatch, step: Int, guide: [Matrix]?, gradientScale: Float) throws -> StepResult {
        let D = model.embeddingDimension
        var tapes: [EmbeddingTape] = []
        var embeddings: [Matrix] = []
        for (c, column) in batch.columns.enumerated() {
            let (e, tape) = model.embedForTraining(column, dropout: dropout(step: step, column: c, range: 0..<column.count),
                                                   keepActivations: true, promptLength: promptLength(column: c))
            embeddings.append(Matrix(rows: column.count, cols: D, floats: e.pointer))
            tapes.append(tape!)
        }
        let output = try loss.lossAndGradients(columns: embeddings, guide: guide, chunkRows: nil, step: step)
        for (c, tape) in tapes.enumerated() {
            let g = floats(output.gradients[c], rows: 0..<batch.columns[c].count, scale: gradientScale)
            model.backward(tape, dEmbeddings: g.pointer)
        }
        return StepResult(loss: output.loss, components: output.components)
    }

    /// Stage 1: every column's embeddings [B × D], one forward per mini-batch, no activations kept. Stage 3
    /// replays the same ranges: a product's rounding can depend on how many rows it has, and the same
    /// ranges make the replayed embeddings bit-identical to the cached ones (spec §14 P4).
    public func embedColumns(_ batch: TokenizedBatch, ranges: [[Range<Int>]], step: Int) -> [Matrix] {
        let D = model.embeddingDimension
        return batch.columns.enumerated().map { c, column in
            var matrix = Matrix(rows: column.count, cols: D)
            for range in ranges[c] {
                let (e, _) = model.embedForTraining(Array(column[range]), dropout: dropout(step: step, column: c, range: range),
                                                    keepActivations: false, promptLength: promptLength(column: c))
                for i in 0..<(range.count * D) { matrix.values[range.lowerBound * D + i] = Double(e[i]) }
            }
            return matrix
        }
    }

    /// Stage 2: the loss and its gradient with respect to every cached embedding.
    public func lossStage(_ embeddings: [Matrix], guide: [Matrix]?, step: Int) throws -> LossOutput {
        try loss.lossAndGradients(columns: embeddings, guide: guide, chunkRows: miniBatching.lossChunkRows, step: step)
    }

    /// Stage 3: replay each mini-batch with activations and push its cached gradient through.
    public func replay(_ batch: TokenizedBatch, ranges: [[Range<Int>]], gradients: [Matrix], step: Int, gradientScale: Float) {
        for (c, column) in batch.columns.enumerated() {
            for range in ranges[c] {
                let (_, tape) = model.embedForTraining(Array(column[range]), dropout: dropout(step: step, column: c, range: range),
                                                       keepActivations: true, promptLength: promptLength(column: c))
                let g = floats(gradients[c], rows: range, scale: gradientScale)
                model.backward(tape!, dEmbeddings: g.pointer)
            }
        }
    }

    func floats(_ m: Matrix, rows: Range<Int>, scale: Float) -> FloatBuffer {
        let out = FloatBuffer(count: rows.count * m.cols)
        let base = rows.lowerBound * m.cols
        for i in 0..<out.count { out[i] = Float(m.values[base + i]) * scale }
        return out
    }
}
