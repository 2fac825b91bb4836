import EmberCore
import Foundation

/// Progress of a long command on stderr (train, encode, evaluate).
///
/// In a terminal: one line redrawn in place, fitted to the terminal's width (read at every draw, so a
/// resized window is followed) — a line wider than the terminal would wrap, and every redraw would then
/// print a new line. Fields are given most important first and dropped from the end until the line fits.
/// Not a terminal (a log file, a pipe, CI): a plain line every `interval` seconds and a last one at the
/// end, and nothing at all for a command shorter than that.
final class ProgressBar {
    let total: Int
    let label: String
    let unit: String
    let isTerminal: Bool
    let interval: TimeInterval
    let start = Date()
    /// Where counting started (a resumed run): the rate counts only the work of this process.
    let initial: Int
    var lastDraw = Date.distantPast
    var lastFields: [String] = []
    var done = 0
    var printedPlainLine = false
    var finished = false

    init(total: Int, label: String, unit: String, done initial: Int = 0, interval: TimeInterval = 10) {
        self.total = total
        self.label = label
        self.unit = unit
        self.initial = initial
        self.done = initial
        self.interval = interval
        isTerminal = isatty(STDERR_FILENO) == 1
    }

    /// `fields` follow the counts, most important first (e.g. "loss 0.4123", "384:0.41 128:0.47", "lr 2.0e-05").
    func update(_ done: Int, fields: [String]? = nil, force: Bool = false) {
        guard !finished else { return }
        self.done = done
        if let fields { lastFields = fields }
        let now = Date()
        let since = now.timeIntervalSince(lastDraw)
        if isTerminal {
            guard force || done >= total || since >= 0.1 else { return }
            lastDraw = now
            StandardError.write("\r" + line(width: Self.terminalColumns()) + "\u{1B}[K")
        } else if force || now.timeIntervalSince(lastDraw == .distantPast ? start : lastDraw) >= interval {
            lastDraw = now
            printedPlainLine = true
            StandardError.write(plainLine() + "\n")
        }
    }

    /// A whole line (an evaluation result, a warning) above the bar, which is redrawn under it.
    func print(_ text: String) {
        if isTerminal {
            StandardError.write("\r\u{1B}[K" + text + "\n")
            if lastDraw != .distantPast && !finished { StandardError.write(line(width: Self.terminalColumns()) + "\u{1B}[K") }
        } else {
            StandardError.write(text + "\n")
        }
    }

    func finish() {
        guard !finished else { return }
        if isTerminal {
            update(done, force: true)
            StandardError.write("\n")
        } else if printedPlainLine {
            StandardError.write(plainLine() + "\n")
        }
        finished = true
    }

    var elapsed: TimeInterval { Date().timeIntervalSince(start) }
    var rate: Double { elapsed > 0 ? Double(done - initial) / elapsed : 0 }

    func line(width: Int) -> String {
        Self.fit(label: label, done: done, total: total, rate: rate, unit: unit, fields: lastFields, width: width)
    }

    func plainLine() -> String {
        let percent = total > 0 ? done * 100 / total : 100
        let eta = done < total && rate > 0 ? ", ETA \(Self.duration(Double(total - done) / rate))" : ", \(Self.duration(elapsed))"
        return ([ "\(label) \(done)/\(total) \(unit) (\(percent)%), \(String(format: "%.1f", rate)) \(unit)/s\(eta)"] + lastFields)
            .joined(separator: ", ")
    }

    /// The terminal line: `label █████····· done/total  rate unit/s  ETA t  fields…`, at most `width - 1`
    /// columns (writing the last column makes some terminals wrap). The bar shrinks from 30 to 10 columns
    /// first, then fields are dropped from the end, then the bar goes, then the line is cut.
    static func fit(label: String, done: Int, total: Int, rate: Double, unit: String, fields: [String], width: Int) -> String {
        let limit = max(width - 1, 10)
        let eta = rate > 0 && done < total ? "ETA \(duration(Double(total - done) / rate))" : ""
        let counts = ["\(done)/\(total)", "\(String(format: "%.1f", rate)) \(unit)/s", eta].filter { !$0.isEmpty }.joined(separator: "  ")
        func compose(_ bar: Int, _ fields: [String]) -> String {
            let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
            let filled = min(bar, Int(fraction * Double(bar)))
            let drawn = bar > 0 ? " " + String(repeating: "█", count: filled) + String(repeating: "·", count: bar - filled) : ""
            return ([label + drawn + " " + counts] + fields).joined(separator: "  ")
        }
        var kept = fields
        while true {
            let room = limit - compose(0, kept).count - 1
            if room >= 10 { return compose(min(room, 30), kept) }
            if kept.isEmpty { break }
            kept.removeLast()
        }
        let bare = compose(0, [])
        return bare.count <= limit ? bare : String(bare.prefix(limit))
    }

    /// Columns of the terminal on stderr ($COLUMNS, then 80, when the size is unknown).
    static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 80
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
