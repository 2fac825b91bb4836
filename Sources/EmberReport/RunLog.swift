import EmberCore
import Foundation

/// A training run as its metrics log (`OUTPUT/metrics.jsonl`, ../shared/spec/cli.md) records it: one line
/// per optimiser step and one `{"step": N, "eval": {dim: {metric: value}}}` line per evaluation.
///
/// A run resumed from a checkpoint appends the steps after the checkpoint again; the log read here is the
/// run as it finally happened: when a step number goes back, the earlier lines from that step on (steps and
/// evaluations) are dropped, so every step appears once, in order.
public struct RunLog: Equatable {
    public struct Step: Equatable {
        public var step: Int
        public var epoch: Double?
        /// nil for a skipped non-finite step (the log holds null).
        public var loss: Double?
        /// Per-Matryoshka-dimension losses, keyed by the dimension as written ("384").
        public var losses: [String: Double]
        public var learningRate: Double?
        public var gradNorm: Double?
        public var pairsPerSecond: Double?
        public var seconds: Double?
        public var skipped: Bool
    }

    public struct Evaluation: Equatable {
        public var step: Int
        /// dimension → metric → value; nil where the metric was undefined (null in the log).
        public var results: [String: [String: Double?]]

        /// The dimensions, largest first.
        public var dims: [String] { results.keys.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) } }
    }

    /// `--load-best-model-at-end`: the step whose model was kept, by which metric at which dimension.
    public struct Best: Equatable {
        public var step: Int
        public var metric: String
        public var dimension: Int
        public var value: Double

        public init(step: Int, metric: String, dimension: Int, value: Double) {
            self.step = step
            self.metric = metric
            self.dimension = dimension
            self.value = value
        }
    }

    public var steps: [Step] = []
    public var evaluations: [Evaluation] = []
    public var best: Best?

    public init(steps: [Step] = [], evaluations: [Evaluation] = []) {
        self.steps = steps
        self.evaluations = evaluations
    }

    /// The Matryoshka dimensions that have per-dimension losses, largest first.
    public var lossDims: [String] {
        Set(steps.flatMap { $0.losses.keys }).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
    }

    /// Reads a metrics log; `source` names the file in errors ("FILE line N: …").
    public init(jsonLines text: String, source: String) throws {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            func fail(_ why: String) -> EmberError { EmberError("\(source) line \(index + 1): \(why)") }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw fail("not a JSON object")
            }
            guard let step = JSONField.integer(object["step"]), step >= 0 else { throw fail("no integer \"step\"") }
            if let best = object["best"] {
                guard let b = best as? [String: Any], let bestStep = JSONField.integer(b["step"]), let metric = b["metric"] as? String,
                      let dimension = JSONField.integer(b["dim"]), let value = JSONField.number(b["value"]) else {
                    throw fail("\"best\" needs step, metric, dim and value")
                }
                self.best = Best(step: bestStep, metric: metric, dimension: dimension, value: value)
            } else if let eval = object["eval"] {
                guard let byDim = eval as? [String: Any] else { throw fail("\"eval\" is not an object") }
                var results: [String: [String: Double?]] = [:]
                for (dim, metrics) in byDim {
                    guard let metrics = metrics as? [String: Any] else { throw fail("\"eval\".\"\(dim)\" is not an object") }
                    results[dim] = metrics.mapValues { JSONField.number($0) }
                }
                evaluations.removeAll { $0.step >= step }
                evaluations.append(Evaluation(step: step, results: results))
            } else {
                var losses: [String: Double] = [:]
                if let components = object["losses"] as? [String: Any] {
                    for (key, value) in components { if let v = JSONField.number(value) { losses[key] = v } }
                }
                if let last = steps.last, step <= last.step {   // a resumed run: from here on the log restarts
                    steps.removeAll { $0.step >= step }
                    evaluations.removeAll { $0.step >= step }
                    best = nil
                }
                steps.append(Step(step: step, epoch: JSONField.number(object["epoch"]), loss: JSONField.number(object["loss"]),
                                  losses: losses, learningRate: JSONField.number(object["lr"]),
                                  gradNorm: JSONField.number(object["grad_norm"]),
                                  pairsPerSecond: JSONField.number(object["pairs_per_s"]),
                                  seconds: JSONField.number(object["seconds"]),
                                  skipped: JSONField.boolean(object["skipped"]) ?? false))
            }
        }
    }

    /// Reads `url`; errors name the file.
    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EmberError("\(url.path): cannot read the metrics log")
        }
        try self.init(jsonLines: String(decoding: data, as: UTF8.self), source: url.path)
    }
}
