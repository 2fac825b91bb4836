import EmberCore

/// MultipleNegativesRankingLoss (MNRL, InfoNCE with in-batch negatives) — sentence-transformers ≥ 5.3
/// semantics (spec §2, §3, §11).
///
/// Inputs: `columns[0]` anchors `q` (B × D), `columns[1]` positives `p`, `columns[2…]` hard negatives
/// `n⁽ᵐ⁾`. Candidates are column-blocked, `C = [P ; N⁽¹⁾ ; … ; N⁽ᵏ⁻¹⁾]` (B·k rows), so the target of anchor
/// row i is candidate i and its m-th own hard negative is candidate m·B + i. With `s` = scale and
/// `sim` = cosine (rows normalised with `max(‖x‖, 1e-12)`) or dot, the blocks of row i are
///
///     QD_ij = s·sim(q_i, C_j) + α·sg(sim(q_i, C_j))·[j ∈ Pen(i)]     (always)
///     QQ_ij = s·sim(q_i, q_j),   QQ_ii = −∞                        (queryToQuery)
///     DQ_ij = s·sim(p_i, q_j)                                      (docToQuery)
///     DD_ij = s·sim(p_i, C_j),   −∞ where j mod B = i              (docToDoc: own positive and negatives)
///
///     joint:        ℓ_i = LSE([QD | QQ | DQ | DD]_i) − QD_ii
///     perDirection: ℓ_i = (1/K)·Σ_blocks LSE(block_i) − QD_ii          L = (1/B)·Σ_i ℓ_i
///
/// The hardness penalty `α·sg(sim)` (α = `hardnessStrength`) is added after scaling, on the q→d block only,
/// never to the positive; being detached, it changes the softmax weights but ∂logit/∂sim stays `s`.
/// `Pen(i)`: inBatchNegatives = other rows' candidates; hardNegatives = row i's own negatives;
/// allNegatives = every candidate but the positive.
///
/// Relation to siblings: the default configuration is classic MNRL = `CE(s·sim(q, C), i)`;
/// `.symmetric` (q→d + d→q, perDirection) is MultipleNegativesSymmetricRankingLoss; `.gte` (all four
/// directions, joint) is GTE's "improved contrastive loss". Cached (GradCache) variants are this loss with
/// `chunkRows` set: chunk `[b, e)` contributes `Σ_{i∈chunk} ℓ_i / B` (spec §4.3), so chunking never changes
/// the value or gradients. GIST (`GISTEmbedLoss`) is the guided, masked sibling; `MatryoshkaLoss` wraps it.
public struct MultipleNegativesRankingLoss: EmbeddingLoss {
    public enum Similarity: String, Sendable, CaseIterable { case cosine, dot }

    /// Score blocks, in the library's (fixed) concatenation order.
    public enum Direction: String, Sendable, CaseIterable, Comparable {
        case queryToDoc = "query_to_doc", queryToQuery = "query_to_query"
        case docToQuery = "doc_to_query", docToDoc = "doc_to_doc"

        var order: Int { Direction.allCases.firstIndex(of: self)! }
        public static func < (a: Direction, b: Direction) -> Bool { a.order < b.order }
    }

    public enum PartitionMode: String, Sendable, CaseIterable { case joint, perDirection = "per_direction" }

    public enum HardnessMode: String, Sendable, CaseIterable {
        case inBatchNegatives = "in_batch_negatives", hardNegatives = "hard_negatives", allNegatives = "all_negatives"
    }

    public let scale: Double
    public let similarity: Similarity
    /// Selected directions, deduplicated, in canonical order (always starts with `.queryToDoc`).
    public let directions: [Direction]
    public let partitionMode: PartitionMode
    public let hardnessMode: HardnessMode?
    public let hardnessStrength: Double
    /// Non-fatal configuration remarks (a hardness mode with strength 0 does nothing).
    public let warnings: [String]

    public var temperature: Double { 1 / scale }
    public var needsGuide: Bool { false }

    public var name: String {
        if directions == [.queryToDoc, .docToQuery] && partitionMode == .perDirection { return "mnrl-symmetric" }
        return "mnrl"
    }

    /// Throws `EmberError` for: scale ≤ 0 (or not finite), empty directions or without queryToDoc,
    /// perDirection with queryToQuery/docToDoc (those pools never hold the positive, so the per-direction
    /// loss could go negative — library PR #3677), negative or non-finite hardness strength.
    public init(scale: Double = 20, similarity: Similarity = .cosine, directions: [Direction] = [.queryToDoc],
                partitionMode: PartitionMode = .joint, hardnessMode: HardnessMode? = nil,
                hardnessStrength: Double = 0) throws {
        guard scale > 0, scale.isFinite else { throw EmberError("--scale must be > 0, got \(scale)") }
        guard !directions.isEmpty else { throw EmberError("--directions must not be empty") }
        guard directions.contains(.queryToDoc) else {
            throw EmberError("--directions must include query_to_doc, got \(directions.map(\.rawValue).joined(separator: ","))")
        }
        let unique = Array(Set(directions)).sorted()
        if partitionMode == .perDirection && (unique.contains(.queryToQuery) || unique.contains(.docToDoc)) {
            throw EmberError("--partition-mode per_direction cannot be combined with query_to_query or doc_to_doc")
        }
        guard hardnessStrength >= 0, hardnessStrength.isFinite else {
            throw EmberError("--hardness-strength must be >= 0, got \(hardnessStrength)")
        }
        self.scale = scale
        self.similarity = similarity
        self.directions = unique
        self.partitionMode = partitionMode
        self.hardnessMode = hardnessMode
        self.hardnessStrength = hardnessStrength
        if let mode = hardnessMode, hardnessStrength == 0 {
            warnings = ["--hardness-mode \(mode.rawValue) with --hardness-strength 0 has no effect"]
        } else {
            warnings = []
        }
    }

    /// Symmetric InfoNCE (q→d and d→q, averaged per direction) == MultipleNegativesSymmetricRankingLoss.
    public static func symmetric(scale: Double = 20, similarity: Similarity = .cosine) throws -> MultipleNegativesRankingLoss {
        try MultipleNegativesRankingLoss(scale: scale, similarity: similarity,
                                         directions: [.queryToDoc, .docToQuery], partitionMode: .perDirection)
    }

    /// GTE's "improved contrastive loss": all four directions in one joint softmax.
    public static func gte(scale: Double = 20, similarity: Similarity = .cosine) throws -> MultipleNegativesRankingLoss {
        try MultipleNegativesRankingLoss(scale: scale, similarity: similarity, directions: Direction.allCases, partitionMode: .joint)
    }

    public func lossAndGradients(columns: [Matrix], guide: [Matrix]?, chunkRows: Int?) throws -> LossOutput {
        try validateColumns(columns, loss: name)
        let rows = columns[0].rows, negatives = columns.count - 2
        // Work in similarity space: unit rows for cosine (then sim = product), raw rows for dot.
        let normalized = similarity == .cosine ? columns.map { NormalizedRows($0, eps: 1e-12) } : nil
        let units = normalized?.map(\.unit) ?? columns
        // One process: the pools are the local columns and the rank offset is 0 (spec §1.3).
        let pool = try lossAndPoolGradients(queries: units[0], documents: units[1], anchorPool: units[0],
                                            candidatePool: Matrix.vstack(Array(units[1...])), rankOffset: 0,
                                            chunkRows: chunkRows)
        // Fold the pool gradients back onto the columns they came from.
        var gradUnits = [Matrix]()
        var anchors = pool.queries
        anchors.add(pool.anchorPool)
        gradUnits.append(anchors)
        for m in 0...negatives {
            var column = pool.candidatePool.rowSlice(m * rows..<(m + 1) * rows)
            if m == 0 { column.add(pool.documents) }
            gradUnits.append(column)
        }
        let gradients = normalized.map { n in zip(n, gradUnits).map { $0.backward($1) } } ?? gradUnits
        return LossOutput(loss: pool.loss, gradients: gradients)
    }

    /// Loss and gradients w.r.t. each pool, in similarity space (already-normalised rows for cosine).
    public struct PoolGradients: Sendable {
        public var loss: Double
        /// ∂L/∂queries (local anchors, rows scored), ∂L/∂documents (local positives, rows of d→q and d→d).
        public var queries: Matrix
        public var documents: Matrix
        /// ∂L/∂anchorPool (candidates of q→q and d→q), ∂L/∂candidatePool (candidates of q→d and d→d).
        public var anchorPool: Matrix
        public var candidatePool: Matrix
    }

    /// The loss over explicit pools, ready for a multi-device gather (spec §1.3, §2.3): `queries` and
    /// `documents` are this device's B local anchor and positive rows; `anchorPool` holds the gathered
    /// anchors (W·B rows); `candidatePool` the gathered candidates, column-blocked
    /// `[P_rank0…P_rank(W−1) ; N1_rank0… ; …]` (W·B·k rows); `rankOffset` = o = rank·B, so row i's positive
    /// is candidate o+i. On one device: queries = anchorPool, documents = first B candidates, offset 0.
    /// Rows are used as given: normalise them first for cosine similarity.
    public func lossAndPoolGradients(queries: Matrix, documents: Matrix, anchorPool: Matrix, candidatePool: Matrix,
                                     rankOffset: Int, chunkRows: Int?) throws -> PoolGradients {
        let rows = queries.rows, poolRows = anchorPool.rows
        guard documents.rows == rows, poolRows > 0, candidatePool.rows % poolRows == 0,
              rankOffset >= 0, rankOffset + rows <= poolRows,
              [documents, anchorPool, candidatePool].allSatisfy({ $0.cols == queries.cols }) else {
            throw EmberError("\(name): inconsistent pools (queries \(rows), documents \(documents.rows), anchors \(poolRows), candidates \(candidatePool.rows), offset \(rankOffset))")
        }
        let k = candidatePool.rows / poolRows
        let sources = [queries, documents, anchorPool, candidatePool]
        var layout = ScoreLayout()
        // Block b of the layout is directions[b] (canonical order, q→d first).
        for direction in directions {
            switch direction {
            case .queryToDoc: layout.append(rowSource: 0, columnSource: 3, candidates: candidatePool.rows)
            case .queryToQuery: layout.append(rowSource: 0, columnSource: 2, candidates: poolRows)
            case .docToQuery: layout.append(rowSource: 1, columnSource: 2, candidates: poolRows)
            case .docToDoc: layout.append(rowSource: 1, columnSource: 3, candidates: candidatePool.rows)
            }
        }
        let qd = layout.blocks[0]
        let width = layout.width
        let chunks = try chunkRanges(rows: rows, chunkRows: chunkRows)
        let buffer = ChunkBuffer(count: (chunks.map(\.count).max() ?? 0) * width)
        var grads = ScoreLayout.zeroGradients(like: sources)
        let s = scale, alpha = hardnessMode == nil ? 0 : hardnessStrength
        // Penalty for row i's candidates that are not its own (other rows' docs) and for its own hard
        // negatives (block ≥ 1); its own positive is never penalised.
        let alphaOthers = (hardnessMode == .inBatchNegatives || hardnessMode == .allNegatives) ? alpha : 0
        let alphaOwnNegatives = (hardnessMode == .hardNegatives || hardnessMode == .allNegatives) ? alpha : 0
        let perDirection = partitionMode == .perDirection
        let blockCount = Double(layout.blocks.count)
        // ∂L/∂logit = softmax/B − target/B; ×s turns it into ∂L/∂sim (the penalty is detached).
        let weight = s / Double(rows) / (perDirection ? blockCount : 1)
        var total = 0.0

        for chunk in chunks {
            layout.forward(sources, rows: chunk, into: buffer.pointer)
            var chunkSum = 0.0
            for r in 0..<chunk.count {
                let own = rankOffset + chunk.lowerBound + r
                let row = buffer.pointer + r * width
                for (direction, block) in zip(directions, layout.blocks) {
                    let p = row + block.offset
                    switch direction {
                    case .queryToDoc:
                        for m in 0..<k {
                            let part = p + m * poolRows
                            let ownSim = part[own]
                            if alphaOthers == 0 {
                                for j in 0..<poolRows { part[j] *= s }
                            } else {
                                for j in 0..<poolRows { part[j] = s * part[j] + alphaOthers * part[j] }
                            }
                            part[own] = m == 0 ? s * ownSim : s * ownSim + alphaOwnNegatives * ownSim
                        }
                    case .queryToQuery:
                        for j in 0..<block.width { p[j] *= s }
                        p[own] = -.infinity
                    case .docToQuery:
                        for j in 0..<block.width { p[j] *= s }
                    case .docToDoc:
                        for j in 0..<block.width { p[j] *= s }
                        for m in 0..<k { p[m * poolRows + own] = -.infinity }
                    }
                }
                let positive = row[qd.offset + own]
                var logZ = 0.0
                if perDirection {
                    for block in layout.blocks {
                        logZ += logSumExpToSoftmax(row + block.offset, count: block.width, weight: weight)
                    }
                    logZ /= blockCount
                } else {
                    logZ = logSumExpToSoftmax(row, count: width, weight: weight)
                }
                chunkSum += logZ - positive
                row[qd.offset + own] -= s / Double(rows)
            }
            total += chunkSum / Double(rows)
            layout.backward(sources, grads: &grads, rows: chunk, from: buffer.pointer)
        }
        return PoolGradients(loss: total, queries: grads[0], documents: grads[1], anchorPool: grads[2], candidatePool: grads[3])
    }
}
