import EmberCore
import EmberModel
import Foundation

/// The metric that picks the best checkpoint (`--metric-for-best-model`): a metric name as the evaluation
/// JSON spells it (`ndcg@10`, `mrr@10`, `spearman` …), at one evaluated dimension (`128:ndcg@10`; without
/// a dimension, the largest one evaluated). Every metric Ember reports is better when greater.
public struct BestModelMetric: Equatable, Codable {
    public let name: String
    public let dimension: Int

    /// `text` is "METRIC" or "DIM:METRIC"; `dims` are the evaluated dimensions, largest first;
    /// `available` the metric names the evaluation reports.
    public init(parsing text: String, dims: [Int], available: [String]) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts.last!.trimmingCharacters(in: .whitespaces)
        var dimension = dims[0]
        if parts.count == 2 {
            guard let d = Int(parts[0].trimmingCharacters(in: .whitespaces)), dims.contains(d) else {
                throw EmberError("--metric-for-best-model '\(text)': the dimension must be one of the evaluated ones (\(dims.map(String.init).joined(separator: ", ")))")
            }
            dimension = d
        }
        guard available.contains(name) else {
            throw EmberError("--metric-for-best-model '\(text)': unknown metric '\(name)' (one of \(available.joined(separator: ", ")))")
        }
        self.name = name
        self.dimension = dimension
    }

    /// The value in one evaluation's results (dimension → metric → value); nil if absent or undefined.
    public func value(in results: [String: [String: Double]]) -> Double? {
        results[String(dimension)]?[name].flatMap { $0.isFinite ? $0 : nil }
    }

    public var description: String { "\(name) at dimension \(dimension)" }
}

/// The best checkpoint so far: its step and metric value (stored in every checkpoint's trainer state, so a
/// resumed run keeps comparing against it).
public struct BestCheckpoint: Codable, Equatable {
    public var step: Int
    public var metric: BestModelMetric
    public var value: Double

    public init(step: Int, metric: BestModelMetric, value: Double) {
        self.step = step
        self.metric = metric
        self.value = value
    }

    /// Whether `value` at a later step replaces this best: strictly greater, so ties keep the earlier step
    /// (as the reference trainer's `np.greater` does).
    public func isImproved(by value: Double) -> Bool { value > self.value }
}

/// The checkpoint folders of a run (`OUTPUT/checkpoint-N`, each with `trainer_state.json`) and their pruning.
public enum Checkpoints {
    public static func name(step: Int) -> String { "checkpoint-\(step)" }

    /// Ember's checkpoints in `output`, oldest step first. Folders without a trainer state (not Ember's
    /// checkpoints, or not checkpoints at all) are not listed, so they are never pruned.
    public static func list(in output: URL) -> [(step: Int, url: URL)] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: output.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)), step >= 0,
                  name == Self.name(step: step) else { return nil }
            let url = output.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) else { return nil }
            return (step, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// Removes the oldest checkpoints so that at most `limit` remain, never one whose step is in `keeping`
    /// (the best checkpoint: with a limit of 1 and a best that is not the newest, two remain, as in the
    /// reference trainer). Each removal is a rename to a hidden sibling followed by its deletion
    /// (`AtomicFolder.remove`), so a kill never leaves a half-deleted checkpoint under its own name.
    /// Returns the removed steps.
    @discardableResult
    public static func prune(in output: URL, limit: Int, keeping: Set<Int>) throws -> [Int] {
        let all = list(in: output)
        guard all.count > limit else { return [] }
        let newest = Set(all.suffix(limit).map(\.step))
        var removed: [Int] = []
        for (step, url) in all where !newest.contains(step) && !keeping.contains(step) {
            try AtomicFolder.remove(url)
            removed.append(step)
        }
        return removed
    }
}
