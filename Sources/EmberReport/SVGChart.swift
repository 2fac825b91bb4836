import Foundation

/// An inline-SVG line chart: labelled axes with round-number ticks, a legend, any number of series, gaps
/// where a value is missing (a skipped step is not a zero). It scales with its container (viewBox, width
/// 100%). The viewBox (360 units wide) is about the width the page shows it at, on a phone (one column)
/// and on a laptop (three), so its 13–14-unit text stays 12–15 px on screen.
///
/// The numbers drawn are the logged numbers, never averages: each series' `<g>` carries them in
/// `data-points` as `x:y` pairs (`null` for a gap), so a reader or a test can recover them from the SVG.
/// A series longer than about two points per pixel column keeps the minimum and the maximum of each
/// column, which draws the same envelope and keeps a 100k-step report small.
public struct SVGChart {
    public struct Series {
        public var name: String
        /// (x, y) in order of x; y nil draws a gap.
        public var points: [(x: Double, y: Double?)]
        public init(name: String, points: [(x: Double, y: Double?)]) {
            self.name = name
            self.points = points
        }
    }

    public var id: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Draws a dot with a hover title on every point: for short series such as evaluations.
    public var markers = false
    /// Starts the y axis at zero (rates and norms), rather than at the data's minimum (losses, metrics).
    public var includeZero = false
    /// Whether x values are step numbers (integer ticks, "25k" for 25,000).
    public var integerX = true
    /// The palette colour of the first series: charts whose series are the same dimensions then match.
    public var colourOffset = 0

    public init(id: String, title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.id = id
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// Colours that stay apart for the colour-blind (Okabe–Ito, darkened for contrast on white).
    static let palette = ["#1f2937", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c6d1f"]

    static let width = 360.0, plotHeight = 180.0, top = 12.0, right = 10.0
    static let tickFont = 13.0, labelFont = 14.0
    /// Points kept per series before min/max downsampling starts (two per bucket).
    static let buckets = 300

    /// Whether any series has a value to draw.
    public var hasData: Bool { series.contains { $0.points.contains { $0.y != nil } } }

    public func svg() -> String {
        let values = series.flatMap { $0.points.compactMap(\.y) }.filter(\.isFinite)
        let xs = series.flatMap { $0.points.map(\.x) }
        guard let yMin = values.min(), let yMax = values.max(), let xMin = xs.min(), let xMax = xs.max() else { return "" }
        let yTicks = Self.niceTicks(includeZero ? min(0, yMin) : yMin, includeZero ? max(0, yMax) : yMax)
        let xTicks = Self.niceTicks(xMin, xMax, integer: integerX)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1, xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        // Tiny or huge values (learning rates): ticks in units of 10^k, named in the axis label, so they
        // read "0.5 1.0 1.5" rather than a column of exponents.
        let largest = yTicks.map(abs).max() ?? 1
        let exponent = yStep < 1e-3 || largest >= 1e6 ? Int(floor(log10(largest) + 1e-9)) : 0
        let unit = pow(10, Double(exponent))
        let yLabels = yTicks.map { Self.tickLabel($0 / unit, step: yStep / unit) }
        let yLabel = exponent == 0 ? self.yLabel : "\(self.yLabel) (×10\(Self.superscript(exponent)))"
        let xLabels = xTicks.map { integerX ? Self.stepLabel($0, step: xStep) : Self.tickLabel($0, step: xStep) }

        // Left margin: the rotated y label, then the widest tick label.
        let left = 8 + Self.labelFont + 6 + (yLabels.map { Self.textWidth($0, font: Self.tickFont) }.max() ?? 0) + 8
        // Right margin: room for half the last x label, which is centred on the plot's right edge.
        let right = max(Self.right, Self.textWidth(xLabels.last ?? "", font: Self.tickFont) / 2 + 4)
        let plotWidth = Self.width - left - right
        let plotBottom = Self.top + Self.plotHeight
        let legend = series.count > 1 ? Self.legendRows(series.map(\.name), width: Self.width - 16) : []
        let height = plotBottom + 22 + Self.labelFont + 10 + Double(legend.count) * 20 + (legend.isEmpty ? 0 : 4)
        let (x0, x1) = (xTicks.first!, xTicks.last!), (y0, y1) = (yTicks.first!, yTicks.last!)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotWidth }
        func py(_ y: Double) -> Double { plotBottom - (y - y0) / (y1 - y0) * Self.plotHeight }

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(HTML.escape(id))\" class=\"chart\" "
        s += "viewBox=\"0 0 \(Self.width.clean) \(height.clean)\" width=\"100%\" role=\"img\" "
        s += "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" font-size=\"\(Self.tickFont.clean)\">"
        s += "<title>\(HTML.escape(title))</title>"
        s += "<desc>\(HTML.escape(yLabel)) against \(HTML.escape(xLabel.lowercased())). Each series' data-points attribute holds the logged values as x:y pairs (null: no value, drawn as a gap); a long series keeps the minimum and maximum of each pixel column.</desc>"

        // Grid and ticks.
        s += "<g class=\"grid\" stroke=\"#e3e6eb\" stroke-width=\"1\">"
        for t in yTicks { s += "<line x1=\"\(left.clean)\" x2=\"\((left + plotWidth).clean)\" y1=\"\(py(t).clean)\" y2=\"\(py(t).clean)\"/>" }
        for t in xTicks { s += "<line x1=\"\(px(t).clean)\" x2=\"\(px(t).clean)\" y1=\"\(Self.top.clean)\" y2=\"\(plotBottom.clean)\"/>" }
        s += "</g>"
        s += "<rect x=\"\(left.clean)\" y=\"\(Self.top.clean)\" width=\"\(plotWidth.clean)\" height=\"\(Self.plotHeight.clean)\" fill=\"none\" stroke=\"#9aa3af\"/>"
        s += "<g class=\"y-ticks\" fill=\"#374151\" text-anchor=\"end\">"
        for (t, label) in zip(yTicks, yLabels) {
            s += "<text x=\"\((left - 6).clean)\" y=\"\((py(t) + 4.5).clean)\">\(HTML.escape(label))</text>"
        }
        s += "</g><g class=\"x-ticks\" fill=\"#374151\" text-anchor=\"middle\">"
        for (t, label) in zip(xTicks, xLabels) {
            s += "<text x=\"\(px(t).clean)\" y=\"\((plotBottom + 18).clean)\">\(HTML.escape(label))</text>"
        }
        s += "</g>"
        let xLabelY = plotBottom + 22 + Self.labelFont + 2, yLabelX = 8 + Self.labelFont - 2, midY = Self.top + Self.plotHeight / 2
        s += "<text class=\"x-label\" x=\"\((left + plotWidth / 2).clean)\" y=\"\(xLabelY.clean)\" text-anchor=\"middle\" font-size=\"\(Self.labelFont.clean)\" fill=\"#111827\">\(HTML.escape(xLabel))</text>"
        s += "<text class=\"y-label\" x=\"\(yLabelX.clean)\" y=\"\(midY.clean)\" transform=\"rotate(-90 \(yLabelX.clean) \(midY.clean))\" text-anchor=\"middle\" font-size=\"\(Self.labelFont.clean)\" fill=\"#111827\">\(HTML.escape(yLabel))</text>"

        // Series: one path with a move-to after every gap; an isolated point gets a dot so it shows. The
        // first series (a total) is drawn last, on top of the others.
        for (index, one) in series.enumerated().reversed() {
            let colour = Self.palette[(index + colourOffset) % Self.palette.count]
            let runs = Self.downsample(one.points, x0: x0, x1: x1, buckets: Self.buckets)
            let segments = runs.map(\.points)
            let data = runs.map { run in
                (run.gapAt.map { ["\(Self.number($0)):null"] } ?? []) + run.points.map { "\(Self.number($0.x)):\(Self.number($0.y!))" }
            }.flatMap { $0 }.joined(separator: " ")
            s += "<g class=\"series\" data-name=\"\(HTML.escape(one.name))\" data-points=\"\(data)\">"
            s += "<title>\(HTML.escape(one.name))</title>"
            var d = ""
            for segment in segments where !segment.isEmpty {
                d += segment.enumerated().map { (i, p) in "\(i == 0 ? "M" : "L")\(px(p.x).clean) \(py(p.y!).clean)" }.joined()
            }
            s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(index == 0 ? "2" : "1.6")\" stroke-linejoin=\"round\"/>"
            for segment in segments where markers || segment.count == 1 {
                for p in segment {
                    s += "<circle cx=\"\(px(p.x).clean)\" cy=\"\(py(p.y!).clean)\" r=\"3.2\" fill=\"\(colour)\">"
                    s += "<title>\(HTML.escape(one.name)), \(HTML.escape(xLabel.lowercased())) \(Self.number(p.x)): \(Self.number(p.y!))</title></circle>"
                }
            }
            s += "</g>"
        }

        // Legend below the axis label, wrapped into rows that fit the width.
        if !legend.isEmpty {
            s += "<g class=\"legend\" fill=\"#111827\">"
            var index = 0
            for (row, names) in legend.enumerated() {
                var x = 8.0
                let y = xLabelY + 12 + Double(row) * 20 + 10
                for name in names {
                    let colour = Self.palette[(index + colourOffset) % Self.palette.count]
                    s += "<line x1=\"\(x.clean)\" x2=\"\((x + 15).clean)\" y1=\"\((y - 4.5).clean)\" y2=\"\((y - 4.5).clean)\" stroke=\"\(colour)\" stroke-width=\"3\"/>"
                    s += "<text x=\"\((x + 19).clean)\" y=\"\(y.clean)\">\(HTML.escape(name))</text>"
                    x += Self.legendItemWidth(name)
                    index += 1
                }
            }
            s += "</g>"
        }
        return s + "</svg>"
    }

    /// Splits `points` into runs without gaps (`gapAt`: the x of the missing value before the run); a
    /// series denser than two points per bucket keeps, per bucket and run, its minimum and maximum (in
    /// order of x), so spikes survive and the drawn envelope is unchanged.
    static func downsample(_ points: [(x: Double, y: Double?)], x0: Double, x1: Double,
                           buckets: Int) -> [(gapAt: Double?, points: [(x: Double, y: Double?)])] {
        var runs: [(gapAt: Double?, points: [(x: Double, y: Double?)])] = []
        var gap: Double?, current: [(x: Double, y: Double?)] = []
        for p in points {
            if let y = p.y, y.isFinite { current.append(p); continue }
            if !current.isEmpty {
                runs.append((gap, current))
                (current, gap) = ([], p.x)
            } else if gap == nil {
                gap = p.x   // a run of missing values is one gap, named by its first x
            }
        }
        if !current.isEmpty || gap != nil { runs.append((gap, current)) }
        guard points.count > 2 * buckets, x1 > x0 else { return runs }
        return runs.map { run in
            guard let firstPoint = run.points.first else { return run }
            var out: [(x: Double, y: Double?)] = []
            var bucket = -1, low = firstPoint, high = firstPoint
            func flush() {
                if bucket < 0 { return }
                if low.x == high.x { out.append(low) } else if low.x < high.x { out += [low, high] } else { out += [high, low] }
            }
            for p in run.points {
                let b = min(buckets - 1, Int((p.x - x0) / (x1 - x0) * Double(buckets)))
                if b != bucket { flush(); bucket = b; low = p; high = p; continue }
                if p.y! < low.y! { low = p }
                if p.y! > high.y! { high = p }
            }
            flush()
            return (run.gapAt, out)
        }
    }

    /// Round-number ticks (steps of 1, 2, 2.5 or 5 × 10^k) spanning lo…hi, about `count` of them.
    static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5, integer: Bool = false) -> [Double] {
        var (lo, hi) = (lo, hi)
        if hi - lo <= abs(hi) * 1e-12 {   // one value: a band around it
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
            if integer { (lo, hi) = (max(0, floor(lo)), ceil(hi) + (ceil(hi) == max(0, floor(lo)) ? 1 : 0)) }
        }
        let raw = (hi - lo) / Double(count - 1)
        let magnitude = pow(10, floor(log10(raw) + 1e-9)), fraction = raw / magnitude * (1 - 1e-9)   // 5.000…1 is 5
        var step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10) * magnitude
        if integer { step = max(1, step.rounded(.up)) }
        let first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// A y tick with as many decimals as the tick step needs.
    static func tickLabel(_ v: Double, step: Double) -> String {
        if abs(v) < step * 1e-6 { return "0" }
        let stepDigits = Int(floor(log10(step) + 1e-9))
        let extra = isWhole(step / pow(10, Double(stepDigits))) ? 0 : 1   // 2.5 × 10^k needs one digit more
        if abs(v) >= 1e4 && step >= 1000 { return stepLabel(v, step: step) }
        return String(format: "%.\(max(0, -stepDigits + extra))f", v)
    }

    /// -5 → "⁻⁵".
    static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (n < 0 ? "⁻" : "") + String(abs(n)).map { digits[Int(String($0))!] }
    }

    /// A step number: 25000 → "25k", 1500000 → "1.5M".
    static func stepLabel(_ v: Double, step: Double) -> String {
        for (unit, suffix) in [(1e6, "M"), (1e3, "k")] where abs(v) >= unit && step >= unit / 10 {
            let decimals = step >= unit && isWhole(step / unit) ? 0 : 1
            return String(format: "%.\(decimals)f", v / unit) + suffix
        }
        return String(format: "%.0f", v)
    }

    static func isWhole(_ v: Double) -> Bool { abs(v - v.rounded()) < 1e-6 }

    /// The shortest text that reads back as the same Double ("2.5", "1e-05"), for data-points.
    static func number(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// Width of `text` in a sans-serif font: about 0.58 em per character (digits are ≈0.55 em), a little
    /// more than most texts need so that labels never collide.
    static func textWidth(_ text: String, font: Double) -> Double { Double(text.count) * font * 0.58 }

    static func legendItemWidth(_ name: String) -> Double { 19 + textWidth(name, font: tickFont) + 12 }

    /// Legend entries grouped into rows no wider than `width`.
    static func legendRows(_ names: [String], width: Double) -> [[String]] {
        var rows: [[String]] = [[]], used = 0.0
        for name in names {
            let w = legendItemWidth(name)
            if used + w > width && !rows[rows.count - 1].isEmpty { rows.append([]); used = 0 }
            rows[rows.count - 1].append(name)
            used += w
        }
        return rows
    }
}

extension Double {
    /// A coordinate with at most one decimal, no trailing ".0": keeps the SVG small.
    var clean: String {
        let r = (self * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
    }
}
