import EmberCore

/// What one mining run produces.
public struct MiningResult: Sendable {
    /// The `range_max` used (given, or derived as the reference derives it).
    public let rangeMax: Int
    /// The chosen negatives per query and the filters' skip counts.
    public let selection: NegativeSelection.Selection
    /// `positiveScores[q][i]`: query q against its i-th distinct positive.
    public let positiveScores: [[Float]]
    public let table: MiningTable
    /// The reference's messages before the search (derived range_max, duplicate anchors, positives per query).
    public let preamble: [String]
    /// The reference's report after it: the statistics table, the skip lines and the "missing" line.
    public let report: [String]
    public var summary: [String] { preamble + report }
}

/// Hard-negative mining with the semantics of sentence-transformers' `mine_hard_negatives`
/// (SEMANTICS.md), from precomputed embeddings: the caller encodes (normalised) — so parity tests can
/// feed the reference's own vectors, and the CLI can cache.
public enum HardNegativeMiner {
    /// `queryEmbeddings` is [problem.queries.count, dim] and `corpusEmbeddings` [problem.corpus.count, dim],
    /// row-major, L2-normalised (scores are plain inner products: cosine). Throws the reference's
    /// validation errors (naming Ember's flags) before any work.
    public static func mine(problem: MiningProblem, queryEmbeddings: UnsafePointer<Float>, corpusEmbeddings: UnsafePointer<Float>,
                            dim: Int, options: MiningOptions, anchorColumn: String = "anchor", positiveColumn: String = "positive",
                            memoryBudget: Int = TopKSearch.defaultMemoryBudget,
                            progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> MiningResult {
        guard problem.rowCount > 0 else { throw EmberError("no (anchor, positive) rows to mine") }
        try options.validate(maxPositives: problem.maxPositives)
        let rangeMax = options.resolvedRangeMax(maxPositives: problem.maxPositives)
        // Room for the positives, which are masked after retrieval (the reference's #3872).
        let K = rangeMax + problem.maxPositives
        let nq = problem.queries.count
        // Slots past the corpus are only padding (-inf); they are counted, never stored (K may be huge).
        let pool = TopKSearch.search(queries: queryEmbeddings, queryCount: nq, corpus: corpusEmbeddings,
                                     corpusCount: problem.corpus.count, dim: dim, k: max(1, min(K, problem.corpus.count)),
                                     memoryBudget: memoryBudget,
                                     progress: progress.map { report in { report($0, nq) } })

        // Positive scores as the reference's pairwise cosine: an elementwise product summed per pair.
        let positiveScores: [[Float]] = problem.positiveIndices.enumerated().map { q, positives in
            positives.map { p in
                var sum: Float = 0
                let a = queryEmbeddings + q * dim, b = corpusEmbeddings + p * dim
                for d in 0..<dim { sum += a[d] * b[d] }
                return sum
            }
        }
        let minPositive = positiveScores.map { $0.min() ?? .infinity }
        let selection = NegativeSelection.select(problem: problem, pool: pool, minPositiveScores: minPositive,
                                                 options: options, rangeMax: rangeMax, slots: K)
        let table = MiningTable(problem: problem, selection: selection, positiveScores: positiveScores,
                                anchorColumn: anchorColumn, positiveColumn: positiveColumn, options: options)
        let preamble = MiningSummary.preamble(problem: problem, options: options, rangeMax: rangeMax)
        let report = MiningSummary.report(positiveScores: positiveScores.flatMap { $0 }, table: table,
                                          skips: selection.skips, options: options)
        return MiningResult(rangeMax: rangeMax, selection: selection, positiveScores: positiveScores, table: table,
                            preamble: preamble, report: report)
    }
}
