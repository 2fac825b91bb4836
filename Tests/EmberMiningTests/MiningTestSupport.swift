import EmberCore
@testable import EmberMining
import XCTest

/// Mines `pairs` with embeddings looked up by text, as the CLI would after encoding.
func mine(_ pairs: [(String, String)], extra: [String] = [], vectors: [String: [Float]], options: MiningOptions,
          memoryBudget: Int = TopKSearch.defaultMemoryBudget) throws -> (MiningProblem, MiningResult) {
    let problem = MiningProblem(pairs: pairs.map { (anchor: $0.0, positive: $0.1) }, extraCorpus: extra)
    let dim = vectors.values.first!.count
    let q = problem.queries.flatMap { vectors[$0]! }, c = problem.corpus.flatMap { vectors[$0]! }
    let result = try HardNegativeMiner.mine(problem: problem, queryEmbeddings: q, corpusEmbeddings: c, dim: dim,
                                            options: options, anchorColumn: "query", positiveColumn: "passage",
                                            memoryBudget: memoryBudget)
    return (problem, result)
}

/// A unit vector whose score against `axis(0)` is exactly `s`: (s, √(1−s²), 0…). `s` should be a
/// float32 value; the product with the axis is then exact.
func scored(_ s: Float, dim: Int = 2) -> [Float] {
    [s, (1 - s * s).squareRoot()] + Array(repeating: 0, count: dim - 2)
}

func axis(_ i: Int, dim: Int = 2) -> [Float] {
    (0..<dim).map { $0 == i ? 1 : 0 }
}

/// The texts of a query's chosen negatives.
func negativeTexts(_ problem: MiningProblem, _ result: MiningResult, query: String) -> [String] {
    let q = problem.queries.firstIndex(of: query)!
    return result.selection.negatives[q].map { problem.corpus[$0] }
}

func options(_ configure: (inout MiningOptions) -> Void) -> MiningOptions {
    var o = MiningOptions()
    configure(&o)
    return o
}

/// The fixture's keyword arguments as Ember's options (the reference's names and defaults).
func referenceOptions(_ kwargs: [String: Any]) -> MiningOptions {
    var o = MiningOptions()
    if let n = kwargs["num_negatives"] as? Int { o.numNegatives = n }
    if let n = kwargs["range_min"] as? Int { o.rangeMin = n }
    o.rangeMax = kwargs["range_max"] as? Int
    o.maxScore = kwargs["max_score"] as? Double
    o.minScore = kwargs["min_score"] as? Double
    o.absoluteMargin = kwargs["absolute_margin"] as? Double
    o.relativeMargin = kwargs["relative_margin"] as? Double
    if let f = kwargs["output_format"] as? String { o.outputFormat = MiningOptions.OutputFormat(rawValue: f)! }
    o.outputScores = kwargs["output_scores"] as? Bool ?? false
    o.includePositives = kwargs["include_positives"] as? Bool ?? false
    if let s = kwargs["sampling_strategy"] as? String { o.sampling = MiningOptions.Sampling(rawValue: s)! }
    return o
}

extension MiningTable {
    /// Row `r` as plain values, for readable assertions.
    func texts(_ r: Int) -> [String] {
        rows[r].map {
            switch $0 {
            case .text(let s): return s
            case .texts(let l): return l.joined(separator: "|")
            case .score(let x): return "\(x)"
            case .scores(let l): return l.map { "\($0)" }.joined(separator: "|")
            case .label(let n): return String(n)
            case .labels(let l): return l.map(String.init).joined(separator: "|")
            }
        }
    }
}
