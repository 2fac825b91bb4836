import Foundation
import EmberCore

/// One cell of a mined row: texts, or the scores/labels the reference adds.
public enum MiningValue: Sendable, Equatable {
    case text(String), texts([String]), score(Float), scores([Float]), label(Int), labels([Int])
}

/// The mined rows in one of the reference's four formats (SEMANTICS.md §5), with the reference's column
/// names: the input's anchor and positive names, then `negative` / `negative_1…N`, `label(s)` or `score(s)`.
///
/// Rows follow the grouped order (§1.4): anchors in first-appearance order, then each anchor's distinct
/// positives in first-appearance order — not the input order. Negatives are chosen once per anchor and
/// shared by its rows. Dropped as the reference drops them: triplet emits one row per found negative;
/// n-tuple keeps a row only with all N negatives; labeled-list keeps a row with at least one negative
/// (shorter lists allowed); labeled-pair never drops positive rows and emits each negative once per anchor.
public struct MiningTable: Sendable {
    public let columns: [String]
    public internal(set) var rows: [[MiningValue]] = []
    /// The negative scores the summary counts for this format, and `positive − negative` aligned with them (§6.2).
    public internal(set) var summaryNegatives: [Float] = []
    public internal(set) var summaryDifferences: [Float] = []
    /// The reference's `maximum_possible_samples` (§6.3), for the "missing" line.
    public let maximumPossible: Int

    /// `positiveScores[q][i]` is the score of q with its i-th distinct positive.
    init(problem: MiningProblem, selection: NegativeSelection.Selection, positiveScores: [[Float]],
         anchorColumn: String, positiveColumn: String, options: MiningOptions) {
        let N = options.numNegatives
        let format = options.effectiveFormat
        let scored = options.outputScores
        switch format {
        case .triplet:
            columns = [anchorColumn, positiveColumn, "negative"] + (scored ? ["scores"] : [])
            maximumPossible = problem.distinctPairCount * N
        case .nTuple:
            columns = [anchorColumn, positiveColumn] + (1...N).map { "negative_\($0)" } + (scored ? ["scores"] : [])
            maximumPossible = problem.distinctPairCount
        case .labeledPair:
            columns = [anchorColumn, positiveColumn, scored ? "score" : "label"]
            // The reference counts raw rows here, so exact duplicate rows show as "missing".
            maximumPossible = problem.queries.count * N + problem.rowCount
        case .labeledList:
            columns = [anchorColumn, positiveColumn, scored ? "scores" : "labels"]
            maximumPossible = problem.distinctPairCount
        }

        let corpus = problem.corpus
        for q in problem.queries.indices {
            let anchor = MiningValue.text(problem.queries[q])
            let negatives = selection.negatives[q].map { corpus[$0] }
            let negativeScores = selection.negativeScores[q]
            let complete = negatives.count == N
            for (i, p) in problem.positiveIndices[q].enumerated() {
                let positive = corpus[p], positiveScore = positiveScores[q][i]
                let counted = format != .nTuple || complete
                if counted {
                    summaryNegatives += negativeScores
                    summaryDifferences += negativeScores.map { positiveScore - $0 }
                }
                switch format {
                case .triplet:
                    for (n, s) in zip(negatives, negativeScores) {
                        rows.append([anchor, .text(positive), .text(n)] + (scored ? [.scores([positiveScore, s])] : []))
                    }
                case .nTuple:
                    guard complete else { continue }
                    rows.append([anchor, .text(positive)] + negatives.map(MiningValue.text)
                                + (scored ? [.scores([positiveScore] + negativeScores)] : []))
                case .labeledPair:
                    rows.append([anchor, .text(positive), scored ? .score(positiveScore) : .label(1)])
                case .labeledList:
                    guard !negatives.isEmpty else { continue }
                    rows.append([anchor, .texts([positive] + negatives),
                                 scored ? .scores([positiveScore] + negativeScores)
                                        : .labels([1] + Array(repeating: 0, count: negatives.count))])
                }
            }
            if format == .labeledPair {
                for (n, s) in zip(negatives, negativeScores) {
                    rows.append([anchor, .text(n), scored ? .score(s) : .label(0)])
                }
            }
        }
    }

    /// One JSON object per row, keys in column order. Scores are written as the shortest decimal of the
    /// float32 value widened to double — what Python prints for the reference's float32 scores.
    public func jsonLines() -> Data {
        var out = ""
        for row in rows {
            out += "{"
            for (c, value) in row.enumerated() {
                if c > 0 { out += ", " }
                out += JSONLiteral.string(columns[c]) + ": " + Self.json(value)
            }
            out += "}\n"
        }
        return Data(out.utf8)
    }

    static func json(_ value: MiningValue) -> String {
        switch value {
        case .text(let s): return JSONLiteral.string(s)
        case .texts(let list): return "[" + list.map(JSONLiteral.string).joined(separator: ", ") + "]"
        case .score(let x): return "\(Double(x))"
        case .scores(let list): return "[" + list.map { "\(Double($0))" }.joined(separator: ", ") + "]"
        case .label(let n): return String(n)
        case .labels(let list): return "[" + list.map(String.init).joined(separator: ", ") + "]"
        }
    }
}
