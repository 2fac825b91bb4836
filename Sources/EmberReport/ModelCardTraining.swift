import EmberCore
import Foundation

/// The card's "Training Details": data, loss, hyperparameters, the log table and the training time.
extension Card {
    /// The reference's documentation anchor of a loss class.
    static func lossLink(_ className: String) -> String {
        "[`\(className)`](https://sbert.net/docs/package_reference/sentence_transformer/losses.html#\(className.lowercased()))"
    }

    func trainingSection() -> [String] {
        var out = ["## Training Details", "", "### Training Dataset", "", "#### \(info.dataName)", "",
                   "* Size: \(info.dataRows) training samples",
                   "* Columns: " + info.columns.map { "<code>\(Markdown.cell($0, limit: 60).dropFirst(6).dropLast(7))</code>" }.joined(separator: ", ")]
        if !info.tokenStatistics.isEmpty {
            out += ["* Approximate statistics based on the first \(info.statisticsRows) samples (tokens, special tokens included, truncated to \(info.maxSequenceLength)):", ""]
            let header = [""] + info.tokenStatistics.map { Markdown.cell($0.column, limit: 60) }
            let rows = [["type"] + info.tokenStatistics.map { _ in "string" },
                        ["min"] + info.tokenStatistics.map { "\($0.min) tokens" },
                        ["mean"] + info.tokenStatistics.map { String(format: "%.2f tokens", $0.mean) },
                        ["max"] + info.tokenStatistics.map { "\($0.max) tokens" }]
            out += [Markdown.table(header, rows), ""]
        }
        if !info.samples.isEmpty {
            out += ["* Samples:", ""]
            let header = info.columns.map { Markdown.cell($0, limit: 60) }
            let rows = info.samples.prefix(3).map { row in info.columns.indices.map { $0 < row.count ? Markdown.cell(row[$0]) : "" } }
            out += [Markdown.table(header, rows), ""]
        }
        for (index, loss) in info.losses.enumerated() {
            let lead = index == 0 ? "* Loss: " : "* Wrapped loss: "
            out += [lead + Card.lossLink(loss.className) + " with these parameters:", "", "```json", "{"]
            out += loss.parameters.enumerated().map { i, p in
                "    \(JSONLiteral.string(p.name)): \(p.value)\(i + 1 < loss.parameters.count ? "," : "")"
            }
            out += ["}", "```", ""]
        }
        if !info.hyperparameters.isEmpty {
            out += ["### Training Hyperparameters", ""] + info.hyperparameters.map { "- `\($0.name)`: \($0.value)" } + [""]
        }
        out += trainingLogs()
        if let seconds = trainingSeconds {
            out += ["### Training Time", "",
                    "- \(Markdown.duration(seconds)) for \(steps.count) optimiser steps (wall clock of the training loop, evaluations and checkpoints included)", ""]
        }
        return out
    }

    /// At most ~20 rows (every n-th step, the last one, and every evaluated step); the loss of a row is the
    /// mean training loss of the steps since the previous row, as the reference logs it.
    func trainingLogs() -> [String] {
        guard let last = steps.last else { return [] }
        let every = max(1, (last.step + 19) / 20)
        let evaluated = Set(evaluations.map(\.step))
        let rowSteps = steps.map(\.step).filter { $0 % every == 0 || $0 == last.step || evaluated.contains($0) }
        let dims = Array(Set(evaluations.flatMap(\.dims))).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        let task = evaluations.last.map(EvaluationNames.task(of:))
        var header = ["Epoch", "Step", "Training Loss"]
        if let task { header += dims.map { "dim_\($0)_\(task.primary)" } }
        var rows: [[String]] = []
        // An evaluation before the first step (the untrained model) gets its own row, as in the reference.
        if let task, let start = evaluations.first(where: { $0.step == 0 }) {
            rows.append(["0", "0", "-"] + dims.map { Markdown.round4(start.results[$0]?[EvaluationNames.emberName(task.primary, task: task)] ?? nil) })
        }
        var byStep: [Int: RunLog.Step] = [:]
        for step in steps { byStep[step.step] = step }
        var pending: [Double] = []
        var index = 0
        for rowStep in rowSteps {
            while index < steps.count && steps[index].step <= rowStep {
                if let loss = steps[index].loss, loss.isFinite, !steps[index].skipped { pending.append(loss) }
                index += 1
            }
            let mean = pending.isEmpty ? nil : pending.reduce(0, +) / Double(pending.count)
            pending = []
            let epoch = byStep[rowStep]?.epoch.map { String(format: "%.4f", $0) } ?? "-"
            var row = [epoch, "\(rowStep)", Markdown.round4(mean)]
            if let task {
                let evaluation = evaluations.last(where: { $0.step == rowStep })
                row += dims.map { dim in
                    let key = EvaluationNames.emberName(task.primary, task: task)
                    return Markdown.round4(evaluation?.results[dim]?[key] ?? nil)
                }
            }
            rows.append(row)
        }
        return ["### Training Logs", "",
                Markdown.table(header, rows, alignRight: Set(0..<header.count)),
                "", "Training Loss is the mean over the steps since the previous row\(every > 1 ? " (a row every \(every) steps, and at every evaluation)" : "").", ""]
    }

    /// Wall-clock seconds of the kept steps: the log's `seconds` restart at each resume, so the run's
    /// segments are added up.
    var trainingSeconds: Double? {
        var total = 0.0, last: Double? = nil
        for step in steps {
            guard let seconds = step.seconds else { continue }
            if let previous = last, seconds < previous { total += previous }
            last = seconds
        }
        guard let last else { return nil }
        return total + last
    }
}

/// Ember's metric names (`ndcg@10`, `spearman`) in the reference's spelling (`cosine_ndcg@10`,
/// `spearman_cosine`: Ember ranks and correlates by cosine), and the reference's task names.
enum EvaluationNames {
    struct Task {
        let type: String, name: String, evaluator: String, primary: String
        var isSTS: Bool { type == "semantic-similarity" }
    }

    static let retrieval = Task(type: "information-retrieval", name: "Information Retrieval",
                                evaluator: "InformationRetrievalEvaluator", primary: "cosine_ndcg@10")
    static let sts = Task(type: "semantic-similarity", name: "Semantic Similarity",
                          evaluator: "EmbeddingSimilarityEvaluator", primary: "spearman_cosine")

    /// STS results have Pearson/Spearman correlations; everything else is retrieval.
    static func task(of evaluation: RunLog.Evaluation) -> Task {
        let names = Set(evaluation.results.values.flatMap(\.keys))
        return names.contains("spearman") || names.contains("pearson") ? sts : retrieval
    }

    static func referenceName(_ name: String, task: Task) -> String {
        task.isSTS ? "\(name)_cosine" : "cosine_\(name)"
    }

    static func emberName(_ reference: String, task: Task) -> String {
        task.isSTS ? String(reference.dropLast("_cosine".count)) : String(reference.dropFirst("cosine_".count))
    }

    /// The reference's order: accuracy, precision, recall, ndcg, mrr, map (then anything else), each by k.
    static func orderedMetrics(_ evaluation: RunLog.Evaluation) -> [String] {
        let families = ["accuracy", "precision", "recall", "ndcg", "mrr", "map", "pearson", "spearman"]
        func key(_ name: String) -> (Int, Int, String) {
            let parts = name.split(separator: "@", maxSplits: 1)
            let family = families.firstIndex(of: String(parts[0])) ?? families.count
            return (family, parts.count > 1 ? Int(parts[1]) ?? 0 : 0, name)
        }
        return Array(Set(evaluation.results.values.flatMap(\.keys))).sorted { key($0) < key($1) }
    }

    /// "cosine_ndcg@10" → "Cosine Ndcg@10" (the reference's metric display names).
    static func title(_ key: String) -> String {
        key.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
    }

    /// "owner/name" with the characters Hugging Face allows, not a path.
    static func isHubID(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        return parts.count == 2 && parts.allSatisfy { part in
            !part.isEmpty && part.unicodeScalars.allSatisfy { $0.isASCII && allowed.contains($0) } && !part.hasPrefix(".") && !part.hasPrefix("-")
        }
    }
}
