import Foundation

/// The reference's verbose report of a mining run (SEMANTICS.md §6), as lines of text. The reference
/// prints it on stdout; Ember prints the same text on stderr (cli.md), stdout being free for data.
public enum MiningSummary {
    /// Lines printed before the search: the derived range_max, duplicate anchors, positives per query.
    public static func preamble(problem: MiningProblem, options: MiningOptions, rangeMax: Int) -> [String] {
        var lines: [String] = []
        if options.rangeMax == nil { lines.append("Setting range_max to \(rangeMax) based on the provided parameters.") }
        if problem.queries.count < problem.rowCount {
            lines.append("Found \(problem.queries.count) unique queries out of \(problem.rowCount) total queries.")
        }
        if problem.maxPositives > 1 {
            // The mean of the raw row counts per anchor, as pandas' groupby counts them.
            let mean = Double(problem.rowCount) / Double(max(1, problem.queries.count))
            lines.append("Found an average of \(String(format: "%.3f", mean)) positives per query.")
        }
        return lines
    }

    /// The table, the "Skipped …" lines and the "missing" line, as printed after the search.
    public static func report(positiveScores: [Float], table: MiningTable, skips: [NegativeSelection.Skip],
                              options: MiningOptions) -> [String] {
        var lines = ["Negative candidates mined, preparing dataset..."]
        let pos = Stats(positiveScores), neg = Stats(table.summaryNegatives), diff = Stats(table.summaryDifferences)
        func row(_ label: String, _ a: String, _ b: String, _ c: String) -> String {
            label.padding(toLength: max(6, label.count), withPad: " ", startingAt: 0) + " " + leftPad(a) + " " + leftPad(b) + " " + leftPad(c)
        }
        lines.append(row("Metric", "Positive", "Negative", "Difference"))
        lines.append(row("Count", thousands(positiveScores.count), thousands(table.summaryNegatives.count), ""))
        for (label, value) in [("Mean", \Stats.mean), ("Median", \Stats.median), ("Std", \Stats.std), ("Min", \Stats.min),
                               ("25%", \Stats.q25), ("50%", \Stats.q50), ("75%", \Stats.q75), ("Max", \Stats.max)] {
            lines.append(row(label, pos[keyPath: value], neg[keyPath: value], diff[keyPath: value]))
        }
        for skip in skips {
            let ratio = percent(Double(skip.skipped) / Double(skip.candidates))
            lines.append("Skipped \(thousands(skip.skipped)) potential negatives (\(ratio)) due to the \(skip.name) of \(pythonFloat(skip.value)).")
        }
        let missing = table.maximumPossible - table.rows.count
        if missing > 0 {
            var parameters = ["range_max"]
            if options.rangeMin > 0 { parameters.append("range_min") }
            if options.absoluteMargin != nil { parameters.append("absolute_margin") }
            if options.relativeMargin != nil { parameters.append("relative_margin") }
            if options.maxScore != nil { parameters.append("max_score") }
            // min_score is never suggested, as in the reference.
            let list = parameters.count == 1 ? parameters[0]
                : parameters.dropLast().joined(separator: ", ") + " and " + parameters.last!
            lines.append("Could not find enough negatives for \(missing) samples (\(percent(Double(missing) / Double(table.maximumPossible)))). "
                         + "Consider adjusting the \(list) parameter\(parameters.count == 1 ? "" : "s") if you'd like to find more valid negatives.")
        }
        return lines
    }

    /// One column's statistics as the reference formats them (torch on float32): mean; median is the
    /// lower middle value; std is unbiased (n − 1, nan for one value); quantiles interpolate linearly.
    /// An empty column prints nan for mean/median/std, inf for min and the quantiles, -inf for max.
    struct Stats {
        let mean, median, std, min, q25, q50, q75, max: String

        init(_ values: [Float]) {
            let sorted = values.map(Double.init).sorted()
            let n = sorted.count
            guard n > 0 else {
                (mean, median, std) = ("nan", "nan", "nan")
                (min, q25, q50, q75, max) = ("inf", "inf", "inf", "inf", "-inf")
                return
            }
            let m = sorted.reduce(0, +) / Double(n)
            mean = Self.format(m)
            median = Self.format(sorted[(n - 1) / 2])
            std = n < 2 ? "nan" : Self.format((sorted.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot())
            min = Self.format(sorted[0])
            max = Self.format(sorted[n - 1])
            func quantile(_ q: Double) -> String {
                let position = q * Double(n - 1)
                let lower = Int(position.rounded(.down)), upper = Swift.min(lower + 1, n - 1)
                return Self.format(sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower)))
            }
            q25 = quantile(0.25); q50 = quantile(0.5); q75 = quantile(0.75)
        }

        /// Rounds through float32 first: the reference's values are float32 tensors printed with `:.4f`.
        static func format(_ x: Double) -> String {
            x.isNaN ? "nan" : String(format: "%.4f", Double(Float(x)))
        }
    }

    static func leftPad(_ s: String) -> String {
        s.count >= 14 ? s : String(repeating: " ", count: 14 - s.count) + s
    }

    /// Python's `f"{n:,}"`.
    static func thousands(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Python's `f"{x:.2%}"`.
    static func percent(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

    /// Python's `str(float)` for the values users pass (shortest round-trip repr; Swift's matches it).
    static func pythonFloat(_ x: Double) -> String { "\(x)" }
}
