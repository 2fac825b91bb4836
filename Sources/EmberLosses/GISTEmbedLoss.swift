import EmberCore

/// GISTEmbedLoss / CachedGISTEmbedLoss (Solatorio 2024) — sentence-transformers ≥ 5.6 semantics
/// (spec §6.3, §7, §11).
///
/// Inputs: model embeddings `a` (anchors), `p` (positives), `n⁽ᵐ⁾` (any number of hard-negative columns),
/// and the guide model's embeddings `ĝa, ĝp, ĝn⁽ᵐ⁾` of the same texts (B × D_guide; no gradient). Both use
/// the cosine of `nn.CosineSimilarity`: `x·y / (max(‖x‖,1e-8)·max(‖y‖,1e-8))`.
///
/// Per anchor row i, the guide's similarity of the row's own pair is the threshold
/// `t_i = ĝcos(ĝa_i, ĝp_i)`, lowered by the margin: `θ_i = t_i − m` (absolute) or `t_i − |t_i|·m`
/// (relative; sign-safe, so a negative t_i is lowered too). Any candidate whose guide similarity is
/// strictly `> θ_i` is a presumed false negative and its logit becomes −∞. The row's logits are
///
///     S_i = [ ap: cos(a_i, p_j) (j = i protected) | aa: cos(a_i, a_j) | pp: cos(p_i, p_j) | an⁽ᵐ⁾: cos(a_i, n⁽ᵐ⁾_j) ] / τ
///     L = (1/B)·Σ_i [ LSE(S_i) − S_{i,i} ]
///
/// `aa` (contrastAnchors) and `pp` (contrastPositives) are optional. Only the CE target (ap column i) is
/// protected: it must survive when m > 0, since then t_i > θ_i. Self terms of aa/pp are not masked
/// explicitly; their guide cosine ≈ 1 exceeds θ_i in practice (the library behaves the same way).
///
/// Relation to siblings: without masking and with both contrast flags off this is MNRL at scale 1/τ
/// (`MultipleNegativesRankingLoss` default). The cached variant is this loss with `chunkRows` (guide blocks
/// are chunked too; chunk weights |chunk|/B). `MatryoshkaLoss` truncates the model embeddings only —
/// the guide always works at its full dimension.
public struct GISTEmbedLoss: EmbeddingLoss {
    public enum MarginStrategy: String, Sendable, CaseIterable { case absolute, relative }

    public let temperature: Double
    public let marginStrategy: MarginStrategy
    public let margin: Double
    public let contrastAnchors: Bool
    public let contrastPositives: Bool

    public var name: String { "gist" }
    public var needsGuide: Bool { true }

    /// Throws `EmberError` for a temperature that is not > 0 or a non-finite margin.
    public init(temperature: Double = 0.01, marginStrategy: MarginStrategy = .absolute, margin: Double = 0,
                contrastAnchors: Bool = true, contrastPositives: Bool = true) throws {
        guard temperature > 0, temperature.isFinite else { throw EmberError("--temperature must be > 0, got \(temperature)") }
        guard margin.isFinite else { throw EmberError("--margin must be a finite number, got \(margin)") }
        self.temperature = temperature
        self.marginStrategy = marginStrategy
        self.margin = margin
        self.contrastAnchors = contrastAnchors
        self.contrastPositives = contrastPositives
    }

    /// The masking threshold θ for a row whose own-pair guide similarity is `t`.
    public func threshold(ownPairGuideSimilarity t: Double) -> Double {
        switch marginStrategy {
        case .absolute: return t - margin
        case .relative: return t - abs(t) * margin
        }
    }

    public func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?) throws -> LossOutput {
        try validateColumns(columns, loss: name)
        guard let guide else { throw EmberError("--loss gist needs --guide (guide embeddings of every column)") }
        guard guide.count == columns.count else {
            throw EmberError("gist: \(guide.count) guide columns for \(columns.count) columns")
        }
        try validateColumns(guide, loss: "gist guide")
        guard guide[0].rows == columns[0].rows else {
            throw EmberError("gist: guide has \(guide[0].rows) rows, the batch \(columns[0].rows)")
        }
        let model = columns.map { NormalizedRows($0, eps: 1e-8) }
        let units = model.map(\.unit)
        let guideUnits = guide.map { NormalizedRows($0, eps: 1e-8).unit }
        // One process: the positive pool is the local positives and the rank offset is 0.
        let pools = Pools(anchors: units[0], positives: units[1], positivePool: units[1], negativePools: Array(units[2...]))
        let guidePools = Pools(anchors: guideUnits[0], positives: guideUnits[1], positivePool: guideUnits[1],
                               negativePools: Array(guideUnits[2...]))
        let result = try lossAndPoolGradients(model: pools, guide: guidePools, rankOffset: 0, chunkRows: chunkRows)
        var positives = result.gradients.positives
        positives.add(result.gradients.positivePool)
        let gradUnits = [result.gradients.anchors, positives] + result.gradients.negativePools
        return LossOutput(loss: result.loss, gradients: zip(model, gradUnits).map { $0.backward($1) })
    }

    /// The matrices GIST scores, for the model (unit rows) or the guide (unit rows), and their gradients.
    /// `anchors`, `positives`: this device's B rows; `positivePool`, `negativePools`: gathered (W·B rows each;
    /// on one device the local columns).
    public struct Pools: Sendable {
        public var anchors: Matrix
        public var positives: Matrix
        public var positivePool: Matrix
        public var negativePools: [Matrix]

        public init(anchors: Matrix, positives: Matrix, positivePool: Matrix, negativePools: [Matrix]) {
            self.anchors = anchors
            self.positives = positives
            self.positivePool = positivePool
            self.negativePools = negativePools
        }

        var sources: [Matrix] { [anchors, positives, positivePool] + negativePools }

        init(sources: [Matrix]) {
            self.init(anchors: sources[0], positives: sources[1], positivePool: sources[2], negativePools: Array(sources[3...]))
        }
    }

    /// The loss over explicit pools (ready for a multi-device gather, spec §6.3): rows are used as given
    /// (pass unit rows); row i's positive is pool row `rankOffset + i`. Returns ∂L/∂(model pools).
    public func lossAndPoolGradients(model: Pools, guide: Pools, rankOffset: Int, chunkRows: Int?) throws -> (loss: Double, gradients: Pools) {
        let rows = model.anchors.rows, poolRows = model.positivePool.rows
        let shapesAgree = [model, guide].allSatisfy { pools in
            pools.anchors.rows == rows && pools.positives.rows == rows && pools.positivePool.rows == poolRows
                && pools.negativePools.allSatisfy { $0.rows == poolRows }
                && pools.sources.allSatisfy { $0.cols == pools.anchors.cols }
        }
        guard shapesAgree, guide.negativePools.count == model.negativePools.count,
              rankOffset >= 0, rankOffset + rows <= poolRows else {
            throw EmberError("gist: inconsistent pools (anchors \(rows), positive pool \(poolRows), offset \(rankOffset))")
        }
        // Sources: 0 anchors, 1 local positives, 2 positive pool, 3… negative pools (model and guide alike,
        // so one layout serves both; the guide's dimension may differ).
        var layout = ScoreLayout()
        let ap = layout.append(rowSource: 0, columnSource: 2, candidates: poolRows)
        if contrastAnchors { layout.append(rowSource: 0, columnSource: 0, candidates: rows) }
        if contrastPositives { layout.append(rowSource: 1, columnSource: 2, candidates: poolRows) }
        for m in model.negativePools.indices { layout.append(rowSource: 0, columnSource: 3 + m, candidates: poolRows) }
        let apOffset = layout.blocks[ap].offset, width = layout.width
        let sources = model.sources, guideSources = guide.sources
        let chunks = try chunkRanges(rows: rows, chunkRows: chunkRows)
        let largest = chunks.map(\.count).max() ?? 0
        let scores = ChunkBuffer(count: largest * width), guideScores = ChunkBuffer(count: largest * width)
        var grads = ScoreLayout.zeroGradients(like: sources)
        let tau = temperature
        // ∂L/∂logit = (softmax − target)/B and ∂logit/∂cos = 1/τ.
        let weight = 1 / (Double(rows) * tau)
        var total = 0.0

        for chunk in chunks {
            layout.forward(sources, rows: chunk, into: scores.pointer)
            layout.forward(guideSources, rows: chunk, into: guideScores.pointer)
            var chunkSum = 0.0
            for r in 0..<chunk.count {
                let own = rankOffset + chunk.lowerBound + r
                let row = scores.pointer + r * width, guideRow = guideScores.pointer + r * width
                let theta = threshold(ownPairGuideSimilarity: guideRow[apOffset + own])
                let target = row[apOffset + own]
                for j in 0..<width {
                    row[j] = guideRow[j] > theta ? -.infinity : row[j] / tau
                }
                // The CE target is never masked (with a margin its own guide similarity exceeds θ).
                let positive = target / tau
                row[apOffset + own] = positive
                chunkSum += logSumExpToSoftmax(row, count: width, weight: weight) - positive
                row[apOffset + own] -= weight
            }
            total += chunkSum / Double(rows)
            layout.backward(sources, grads: &grads, rows: chunk, from: scores.pointer)
        }
        return (total, Pools(sources: grads))
    }
}
