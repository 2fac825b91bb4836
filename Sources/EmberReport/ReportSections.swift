import Foundation

/// Text for XML and HTML alike: the five special characters as entities XML knows without a DTD, and the
/// control characters XML 1.0 forbids (a path can hold them) as U+FFFD.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                out.unicodeScalars.append(v < 0x20 || v == 0xFFFE || v == 0xFFFF ? "\u{FFFD}" : scalar)
            }
        }
        return out
    }
}

/// The report's text sections: facts, summary cards and the evaluation tables.
enum ReportSections {
    /// Metrics worth a row in the before/after table, in this order, when the log has them.
    static let headlineMetrics = ["ndcg@10", "mrr@10", "map@100", "recall@10", "accuracy@1", "spearman", "pearson"]

    static func facts(_ facts: [(String, String)]) -> String {
        guard !facts.isEmpty else { return "" }
        return "<table id=\"facts\" class=\"facts\">" + facts.map { key, value in
            "<tr><th>\(HTML.escape(key))</th><td>\(HTML.escape(value))</td></tr>"
        }.joined() + "</table>"
    }

    static func summary(_ log: RunLog) -> String {
        guard let last = log.steps.last else { return "<p class=\"note\">No training steps in the log yet.</p>" }
        var cards: [(String, String)] = [("Steps", "\(last.step)")]
        if let epoch = last.epoch { cards.append(("Epochs", String(format: "%.2f", epoch))) }
        if let seconds = totalSeconds(log.steps) { cards.append(("Training time", duration(seconds))) }
        if let final = log.steps.last(where: { $0.loss != nil }) {
            cards.append((final.step == last.step ? "Final loss" : "Last loss (step \(final.step))", significant(final.loss!)))
        }
        let speeds = log.steps.compactMap(\.pairsPerSecond)
        if !speeds.isEmpty { cards.append(("Mean pairs/s", String(format: "%.1f", speeds.reduce(0, +) / Double(speeds.count)))) }
        let skipped = log.steps.filter(\.skipped).map(\.step)
        var skippedText = "\(skipped.count)"
        if !skipped.isEmpty {
            skippedText += " (step\(skipped.count == 1 ? "" : "s") " + skipped.prefix(8).map(String.init).joined(separator: ", ")
                + (skipped.count > 8 ? ", …)" : ")")
        }
        cards.append(("Skipped steps", skippedText))
        if let final = log.evaluations.last, let metric = chartMetrics(log.evaluations).first, let dim = final.dims.first,
           let value = final.results[dim]?[metric] ?? nil {
            cards.append(("Final \(metric) (dim \(dim))", String(format: "%.4f", value)))
        }
        return "<div class=\"cards\">" + cards.map { key, value in
            "<div class=\"card\"><span class=\"k\">\(HTML.escape(key))</span><span class=\"v\">\(HTML.escape(value))</span></div>"
        }.joined() + "</div>"
    }

    /// Wall-clock seconds over all attempts: `seconds` restarts from zero when a run is resumed, so each
    /// attempt contributes its last value.
    static func totalSeconds(_ steps: [RunLog.Step]) -> Double? {
        let seconds = steps.compactMap(\.seconds)
        guard let last = seconds.last else { return nil }
        return zip(seconds, seconds.dropFirst()).reduce(last) { sum, pair in pair.1 < pair.0 ? sum + pair.0 : sum }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%dm %02ds", s / 60, s % 60) }
        return String(format: "%dh %02dm %02ds", s / 3600, s / 60 % 60, s % 60)
    }

    /// Four significant digits: losses span 0.001 to 10.
    static func significant(_ v: Double) -> String {
        guard v.isFinite, v != 0 else { return "\(v)" }
        let digits = max(0, 3 - Int(floor(log10(abs(v)))))
        return abs(v) < 1e-4 ? String(format: "%.3e", v) : String(format: "%.\(digits)f", v)
    }

    /// The metrics charted per dimension: the first headline metric the log has (ndcg@10 for retrieval,
    /// Spearman for STS), or its first metric by name.
    static func chartMetrics(_ evaluations: [RunLog.Evaluation]) -> [String] {
        let present = Set(evaluations.flatMap { $0.results.values.flatMap(\.keys) })
        let preferred = ["ndcg@10", "spearman", "mrr@10", "map@100", "pearson"]
        if let metric = preferred.first(where: present.contains) ?? present.sorted().first { return [metric] }
        return []
    }

    static func slug(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    static func dims(_ evaluations: [RunLog.Evaluation]) -> [String] {
        Set(evaluations.flatMap(\.dims)).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
    }

    static func metric(_ v: Double??) -> String {
        guard let v = v ?? nil else { return v == nil ? "" : "undefined" }
        return String(format: "%.4f", v)
    }

    /// First evaluation (the base model, when the trainer evaluated at step 0) against the last.
    static func beforeAfter(_ evaluations: [RunLog.Evaluation]) -> String {
        guard let first = evaluations.first, let last = evaluations.last, evaluations.count >= 2 else {
            return "<p class=\"note\">One evaluation (step \(evaluations.first?.step ?? 0)): nothing to compare it with.</p>"
        }
        let present = Set(evaluations.flatMap { $0.results.values.flatMap(\.keys) })
        var metrics = headlineMetrics.filter(present.contains)
        if metrics.isEmpty { metrics = present.sorted() }
        // One group of rows per dimension: four columns fit a phone's width.
        var rows = ""
        for dim in dims(evaluations) {
            rows += "<tr class=\"group\"><th colspan=\"4\">dim \(HTML.escape(dim))</th></tr>"
            for name in metrics {
                let before = first.results[dim]?[name], after = last.results[dim]?[name]
                var change = "<td class=\"num\"></td>"
                if let b = before ?? nil, let a = after ?? nil {
                    let d = a - b
                    change = "<td class=\"num \(d > 0 ? "up" : d < 0 ? "down" : "")\">\(String(format: "%+.4f", d))</td>"
                }
                rows += "<tr><td>\(HTML.escape(name))</td><td class=\"num\">\(metric(before))</td>"
                rows += "<td class=\"num\">\(metric(after))</td>\(change)</tr>"
            }
        }
        let head = "<tr><th>Metric</th><th class=\"num\">Before</th><th class=\"num\">After</th><th class=\"num\">Change</th></tr>"
        let note = (first.step == 0 ? "Before: the base model (step 0)" : "Before: the first evaluation (step \(first.step))")
            + "; after: the last evaluation (step \(last.step))."
        return "<p class=\"lead\">\(note)</p><div class=\"scroll bare\"><table id=\"before-after\">\(head)\(rows)</table></div>"
    }

    /// Every logged metric of every evaluation, folded away: the charts show the headline one.
    static func allEvaluations(_ evaluations: [RunLog.Evaluation]) -> String {
        let metrics = Set(evaluations.flatMap { $0.results.values.flatMap(\.keys) }).sorted { a, b in
            let (ia, ib) = (headlineMetrics.firstIndex(of: a) ?? .max, headlineMetrics.firstIndex(of: b) ?? .max)
            return ia != ib ? ia < ib : a < b
        }
        var table = "<tr><th>Step</th><th>Dim</th>" + metrics.map { "<th class=\"num\">\(HTML.escape($0))</th>" }.joined() + "</tr>"
        for evaluation in evaluations {
            for dim in evaluation.dims {
                table += "<tr><td>\(evaluation.step)</td><td>\(HTML.escape(dim))</td>"
                table += metrics.map { "<td class=\"num\">\(metric(evaluation.results[dim]?[$0]))</td>" }.joined() + "</tr>"
            }
        }
        return "<details><summary>All evaluations (\(evaluations.count))</summary><div class=\"scroll\"><table id=\"all-evaluations\">\(table)</table></div></details>"
    }
}
