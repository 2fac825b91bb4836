import EmberCore
import EmberModel
import EmberTraining
import Foundation

/// Evaluation during `ember train` (`--eval-*`): before the first step (`--eval-on-start`), every
/// `--eval-steps`, and at the end; and, with `--load-best-model-at-end`, which checkpoint is best by
/// `--metric-for-best-model`. The results go to the metrics log as `{"step": N, "eval": {dim: metrics}}`.
struct TrainEvaluation {
    let set: EvaluationSet
    /// The evaluated dimensions, largest first.
    let dims: [Int]
    /// The metric that picks the best checkpoint; nil without `--load-best-model-at-end`.
    let bestMetric: BestModelMetric?
    /// `--eval-query-prompt`/`--eval-corpus-prompt` or `--eval-prompt` (none by default: the evaluator's own).
    var prompts = EvaluationPrompts()

    /// The metric names this set reports (what `--metric-for-best-model` may name).
    static func metricNames(of set: EvaluationSet) -> [String] {
        if case .sts = set.kind { return ["spearman", "pearson"] }
        return RetrievalMetrics().names
    }

    /// Checks the flags together; `saveSteps` is the checkpoint interval after defaults (nil: none).
    init(set: EvaluationSet, dims: [Int], every: Int?, loadBest: Bool, metric: String?, saveSteps: Int?) throws {
        self.set = set
        self.dims = dims
        guard loadBest else {
            if metric != nil { throw EmberError("--metric-for-best-model needs --load-best-model-at-end") }
            bestMetric = nil
            return
        }
        // As in the reference trainer: the best model is chosen among checkpoints, so every checkpoint
        // must have been evaluated: checkpoints at a multiple of the evaluation interval.
        guard let every else { throw EmberError("--load-best-model-at-end needs --eval-steps (checkpoints are compared at evaluation steps)") }
        if let saveSteps, saveSteps % every != 0 {
            throw EmberError("--load-best-model-at-end needs --save-steps to be a multiple of --eval-steps (got \(saveSteps) and \(every))")
        }
        let names = Self.metricNames(of: set)
        // Default as the evaluation's headline metric: ndcg@10 for retrieval, Spearman for STS.
        let headline = names.contains("ndcg@10") ? "ndcg@10" : names[0]
        bestMetric = try BestModelMetric(parsing: metric ?? headline, dims: dims, available: names)
    }

    func evaluate(_ model: SentenceModel) throws -> [String: [String: Double]] {
        try set.evaluate(model, dims: dims, batchSize: 64, prompts: prompts)
    }

    /// One line on stderr: the main metric at the largest dimension (and the best-model metric if other).
    func summary(step: Int, _ results: [String: [String: Double]], label: String? = nil) -> String {
        func format(_ x: Double?) -> String { x.map { $0.isFinite ? String(format: "%.4f", $0) : "undefined" } ?? "–" }
        let main = results[String(dims[0])] ?? [:]
        var parts = ["ndcg@10", "spearman"].compactMap { key in main[key].map { "\(key) \(format($0))" } }
        if let bestMetric, bestMetric.dimension != dims[0] || !["ndcg@10", "spearman"].contains(bestMetric.name) {
            parts.append("\(bestMetric.dimension):\(bestMetric.name) \(format(results[String(bestMetric.dimension)]?[bestMetric.name]))")
        }
        return "eval \(label ?? "at step \(step)") (dim \(dims[0])): \(parts.joined(separator: ", "))"
    }
}
