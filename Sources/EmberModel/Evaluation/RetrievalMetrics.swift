import EmberCore
import Foundation

/// Information-retrieval metrics as sentence-transformers' `InformationRetrievalEvaluator` defines them
/// (binary relevance; queries without any relevant document are left out, as the reference does):
///   accuracy@k  1 if a relevant document is in the top k
///   precision@k |relevant ∩ top k| / k
///   recall@k    |relevant ∩ top k| / |relevant|
///   mrr@k       1 / rank of the first relevant document in the top k (0 if none)
///   ndcg@k      Σ_{i<k} rel_i / log2(i + 2) divided by the same sum for the ideal ranking
///   map@k       Σ_{i<k, rel_i} precision@(i+1) / min(k, |relevant|)
/// Each is averaged over queries. Defaults: accuracy/precision/recall at 1, 3, 5, 10; mrr@10, ndcg@10, map@100.
public struct RetrievalMetrics {
    public var accuracyAt = [1, 3, 5, 10]
    public var precisionRecallAt = [1, 3, 5, 10]
    public var mrrAt = [10]
    public var ndcgAt = [10]
    public var mapAt = [100]

    public init() {}

    /// Every metric name `compute` reports.
    public var names: [String] {
        accuracyAt.map { "accuracy@\($0)" } + precisionRecallAt.flatMap { ["precision@\($0)", "recall@\($0)"] }
            + mrrAt.map { "mrr@\($0)" } + ndcgAt.map { "ndcg@\($0)" } + mapAt.map { "map@\($0)" }
    }

    var depth: Int { (accuracyAt + precisionRecallAt + mrrAt + ndcgAt + mapAt).max() ?? 10 }

    /// `ranked[q]`: corpus indices by decreasing score (at least `depth` of them, or all);
    /// `relevant[q]`: the relevant corpus indices of query q (non-empty).
    public func compute(ranked: [[Int]], relevant: [Set<Int>]) -> [String: Double] {
        var sums: [String: Double] = [:]
        for (top, rel) in zip(ranked, relevant) {
            let hits = top.map { rel.contains($0) }
            func hitsWithin(_ k: Int) -> Int { hits.prefix(k).filter { $0 }.count }
            for k in accuracyAt { sums["accuracy@\(k)", default: 0] += hitsWithin(k) > 0 ? 1 : 0 }
            for k in precisionRecallAt {
                sums["precision@\(k)", default: 0] += Double(hitsWithin(k)) / Double(k)
                sums["recall@\(k)", default: 0] += Double(hitsWithin(k)) / Double(rel.count)
            }
            for k in mrrAt {
                sums["mrr@\(k)", default: 0] += hits.prefix(k).firstIndex(of: true).map { 1 / Double($0 + 1) } ?? 0
            }
            for k in ndcgAt {
                let dcg = hits.prefix(k).enumerated().reduce(0.0) { $0 + ($1.element ? 1 / log2(Double($1.offset + 2)) : 0) }
                let ideal = (0..<min(k, rel.count)).reduce(0.0) { $0 + 1 / log2(Double($1 + 2)) }
                sums["ndcg@\(k)", default: 0] += dcg / ideal
            }
            for k in mapAt {
                var found = 0, precisionSum = 0.0
                for (i, hit) in hits.prefix(k).enumerated() where hit {
                    found += 1
                    precisionSum += Double(found) / Double(i + 1)
                }
                sums["map@\(k)", default: 0] += precisionSum / Double(min(k, rel.count))
            }
        }
        // No query: every metric is undefined (NaN, written as null), not silently 0.
        guard !ranked.isEmpty else { return Dictionary(uniqueKeysWithValues: names.map { ($0, Double.nan) }) }
        return sums.mapValues { $0 / Double(ranked.count) }
    }
}

/// Pearson and Spearman correlation (Spearman on average ranks for ties), as scipy computes them.
public enum Correlation {
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxy / (sxx * syy).squareRoot()
    }

    public static func spearman(_ x: [Double], _ y: [Double]) -> Double { pearson(ranks(x), ranks(y)) }

    /// 1-based ranks, ties sharing their average rank.
    public static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && values[order[j + 1]] == values[order[i]] { j += 1 }
            let average = Double(i + j) / 2 + 1
            for t in i...j { ranks[order[t]] = average }
            i = j + 1
        }
        return ranks
    }
}
