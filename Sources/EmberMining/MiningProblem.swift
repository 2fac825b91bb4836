/// What is searched when mining hard negatives for (anchor, positive) rows, built as
/// sentence-transformers' `mine_hard_negatives` builds it (SEMANTICS.md §1):
///
/// - `queries`: the distinct anchors, in first-appearance order (only these are encoded and searched);
/// - `corpus`: `extraCorpus ++ positives` (positives in row order), deduplicated by exact text, keeping
///   the first occurrence. Anchors are never added, but an anchor that also occurs as a positive or an
///   extra corpus text is an ordinary candidate — even for itself, as in the reference;
/// - `positiveIndices[q]`: the distinct corpus indices of q's positives, in first-appearance order, from
///   all of q's rows (every one is excluded from q's candidates);
/// - `rowsPerQuery[q]`: q's raw row count, exact duplicate rows included. The reference derives
///   `max_positives` from this count (pandas groupby), not from the distinct positives.
public struct MiningProblem: Sendable {
    public let queries: [String]
    public let corpus: [String]
    public let positiveIndices: [[Int]]
    public let rowsPerQuery: [Int]
    /// The number of input rows.
    public let rowCount: Int

    public init(pairs: [(anchor: String, positive: String)], extraCorpus: [String] = []) {
        var corpus: [String] = []
        var corpusIndex: [String: Int] = [:]
        func add(_ text: String) -> Int {
            if let i = corpusIndex[text] { return i }
            corpusIndex[text] = corpus.count
            corpus.append(text)
            return corpus.count - 1
        }
        for text in extraCorpus { _ = add(text) }
        // Positives join the corpus in row order (after the extra texts), before any query is grouped.
        let positiveOfRow = pairs.map { add($0.positive) }

        var queries: [String] = []
        var queryIndex: [String: Int] = [:]
        var positives: [[Int]] = []
        var seenPositive: [Set<Int>] = []
        var rows: [Int] = []
        for (row, pair) in pairs.enumerated() {
            let q: Int
            if let existing = queryIndex[pair.anchor] {
                q = existing
            } else {
                q = queries.count
                queryIndex[pair.anchor] = q
                queries.append(pair.anchor)
                positives.append([]); seenPositive.append([]); rows.append(0)
            }
            rows[q] += 1
            if seenPositive[q].insert(positiveOfRow[row]).inserted { positives[q].append(positiveOfRow[row]) }
        }
        self.queries = queries
        self.corpus = corpus
        self.positiveIndices = positives
        self.rowsPerQuery = rows
        self.rowCount = pairs.count
    }

    /// The largest raw row count of an anchor (duplicate rows counted): the reference's `max_positives`.
    public var maxPositives: Int { rowsPerQuery.max() ?? 0 }

    /// The number of distinct (anchor, positive) pairs: the rows of the grouped order (§1.4).
    public var distinctPairCount: Int { positiveIndices.reduce(0) { $0 + $1.count } }
}
