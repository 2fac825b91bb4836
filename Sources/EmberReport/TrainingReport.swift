import EmberCore
import Foundation

/// The HTML report of a training run (`OUTPUT/report.html`): the caller's facts, a summary, charts of loss
/// (total and per Matryoshka dimension), learning rate, gradient norm, throughput and evaluation metrics,
/// and a before/after table of the first and last evaluations.
///
/// One self-contained file — inline CSS and SVG, no script, no network — so it opens anywhere, is safe to
/// mail, and still shows a killed run (`ember report` rebuilds it from the log). The markup is also
/// well-formed XML (every tag closed, attributes quoted, only XML's own entities), so tools can parse it.
public enum TrainingReport {
    /// Marks a report as Ember's: `ember report` replaces only a `report.html` that carries it.
    public static let generatorMarker = "<meta name=\"generator\" content=\"Ember training report\"/>"

    /// Whether `file` is a report Ember wrote (its head carries `generatorMarker`).
    public static func isEmbers(_ file: URL) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { return false }
        defer { try? handle.close() }
        return String(decoding: handle.readData(ofLength: 4096), as: UTF8.self).contains(generatorMarker)
    }

    /// The page. `facts` are rows shown first (model, loss, data, batch …), in the caller's order.
    public static func html(log: RunLog, title: String, facts: [(String, String)]) -> String {
        var page = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
        page += generatorMarker
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
        page += "<title>\(HTML.escape(title))</title><style>\(style)</style></head><body><main>"
        page += "<h1>\(HTML.escape(title))</h1>"
        page += ReportSections.facts(facts)
        page += ReportSections.summary(log)
        page += "<h2>Training</h2><div class=\"charts\">"
        page += charts(log).map { figure($0.chart, empty: $0.empty) }.joined()
        page += "</div>"
        page += "<h2>Evaluation</h2>"
        if log.evaluations.isEmpty {
            page += "<p class=\"note\">No evaluations in the log (train with --eval-sts or --eval-queries/--eval-corpus/--eval-qrels).</p>"
        } else {
            // The chart and the before/after table side by side on a laptop, one under the other on a phone.
            page += "<div class=\"charts\">" + evaluationCharts(log.evaluations).map { figure($0, empty: "") }.joined()
            page += "<figure><figcaption>Before and after</figcaption>\(ReportSections.beforeAfter(log.evaluations))</figure></div>"
            page += ReportSections.allEvaluations(log.evaluations)
        }
        page += "<footer>Written by Ember from the run's metrics log; the numbers in each chart are in its SVG (data-points).</footer>"
        return page + "</main></body></html>\n"
    }

    /// Writes the page to `file` atomically: a temporary file in the same folder, then a rename, so a
    /// reader never sees half a report and a failure leaves the previous one.
    public static func write(log: RunLog, title: String, facts: [(String, String)], to file: URL) throws {
        let folder = file.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
        do {
            try Data(html(log: log, title: title, facts: facts).utf8).write(to: temporary)
            guard rename(temporary.path, file.path) == 0 else {
                throw EmberError("\(file.path): cannot write the report (\(String(cString: strerror(errno))))")
            }
        } catch let error as EmberError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw EmberError("\(file.path): cannot write the report (\((error as NSError).localizedDescription))")
        }
    }

    /// The per-step charts, each with the note shown when the log has none of its values.
    static func charts(_ log: RunLog) -> [(chart: SVGChart, empty: String)] {
        func points(_ value: (RunLog.Step) -> Double?) -> [(x: Double, y: Double?)] {
            log.steps.map { (Double($0.step), value($0)) }
        }
        var lossSeries = [SVGChart.Series(name: log.lossDims.isEmpty ? "loss" : "total", points: points(\.loss))]
        for dim in log.lossDims {
            // A dimension missing from a step (--matryoshka-dims-per-step) is a gap, like a skipped step.
            lossSeries.append(.init(name: "dim \(dim)", points: points { $0.losses[dim] }))
        }
        var loss = SVGChart(id: "chart-loss", title: "Loss per step", xLabel: "Step", yLabel: "Loss", series: lossSeries)
        loss.markers = log.steps.count <= 40
        var lr = SVGChart(id: "chart-lr", title: "Learning rate", xLabel: "Step", yLabel: "Learning rate",
                          series: [.init(name: "lr", points: points(\.learningRate))])
        lr.includeZero = true
        var grad = SVGChart(id: "chart-grad-norm", title: "Gradient norm (before clipping)", xLabel: "Step", yLabel: "Gradient norm",
                            series: [.init(name: "grad norm", points: points(\.gradNorm))])
        grad.includeZero = true
        var speed = SVGChart(id: "chart-pairs-per-s", title: "Throughput", xLabel: "Step", yLabel: "Pairs per second",
                             series: [.init(name: "pairs/s", points: points(\.pairsPerSecond))])
        speed.includeZero = true
        return [(loss, "No loss values in the log."), (lr, "No learning-rate values in the log."),
                (grad, "No gradient norms in the log."), (speed, "No throughput values in the log.")]
    }

    /// One chart per headline metric (ndcg@10 for retrieval, Spearman for STS …), one series per dimension.
    static func evaluationCharts(_ evaluations: [RunLog.Evaluation]) -> [SVGChart] {
        let dims = Set(evaluations.flatMap(\.dims)).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        return ReportSections.chartMetrics(evaluations).enumerated().map { index, metric in
            let series = dims.map { dim in
                SVGChart.Series(name: "dim \(dim)", points: evaluations.map { e in
                    (Double(e.step), e.results[dim]?[metric] ?? nil)
                })
            }
            var chart = SVGChart(id: index == 0 ? "chart-eval" : "chart-eval-\(ReportSections.slug(metric))",
                                 title: "\(metric) per dimension", xLabel: "Step", yLabel: metric, series: series)
            chart.markers = true
            chart.colourOffset = 1   // the loss chart's first colour is its total: dim N is the same colour in both
            return chart
        }
    }

    static func figure(_ chart: SVGChart, empty: String) -> String {
        let body = chart.hasData ? chart.svg() : "<p class=\"note\">\(HTML.escape(empty.isEmpty ? "No values." : empty))</p>"
        return "<figure><figcaption>\(HTML.escape(chart.title))</figcaption>\(body)</figure>"
    }

    /// The page's CSS: charts one column on a phone, three on a laptop, each about as wide as its viewBox
    /// (auto-fill: a lone chart keeps that width); no `<` or `>` (the markup must stay XML).
    static let style = """
    :root{color-scheme:light}\
    body{margin:0;background:#f4f5f7;color:#111827;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
    main{max-width:1180px;margin:0 auto;padding:14px 12px 32px}\
    h1{font-size:1.35rem;margin:.2em 0 .6em;overflow-wrap:anywhere}\
    h2{font-size:1.1rem;margin:1.4em 0 .5em}\
    .facts{background:#fff;border:1px solid #dde1e7;border-radius:8px;font-size:.92rem}\
    .facts th{width:6.5em;color:#4b5563;font-weight:500;vertical-align:top}\
    .facts td{overflow-wrap:anywhere;word-break:break-word}\
    .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin-top:12px}\
    .card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:8px 10px}\
    .card .k{display:block;color:#4b5563;font-size:.85rem}\
    .card .v{display:block;font-size:1.15rem;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}\
    .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,330px),1fr));gap:12px;align-items:start}\
    figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 8px 6px;min-width:0}\
    figcaption{font-weight:600;margin:0 4px 4px}\
    svg.chart{display:block;width:100%;height:auto}\
    .scroll{overflow-x:auto;background:#fff;border:1px solid #dde1e7;border-radius:8px;margin-bottom:12px}\
    table{border-collapse:collapse;width:100%}\
    th,td{padding:5px 8px;border-bottom:1px solid #eceef2;text-align:left}\
    tr:last-child th,tr:last-child td{border-bottom:none}\
    tr.group th{background:#f3f4f6;font-weight:600}\
    td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
    .up{color:#047857}.down{color:#b91c1c}\
    .note{color:#4b5563;font-style:italic;margin:.4em 4px}\
    .lead{color:#374151;margin:.2em 4px .6em;font-size:.9rem}\
    .scroll.bare{border:none;margin:0}\
    details{margin-top:8px}summary{cursor:pointer;margin-bottom:8px}\
    footer{margin-top:24px;color:#6b7280;font-size:.85rem}
    """
}
