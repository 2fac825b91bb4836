import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal (never in logs or pipes).
final class ProgressBar {
    let total: Int
    let label: String
    let enabled: Bool
    let start = Date()
    var lastDraw = Date.distantPast
    var lastExtra = ""

    let unit: String

    /// `unit` names what is counted ("texts", "steps") in the rate.
    init(total: Int, label: String, unit: String) {
        self.total = total
        self.label = label
        self.unit = unit
        enabled = isatty(STDERR_FILENO) == 1
    }

    /// `extra` is appended to the line (e.g. "loss 0.412  lr 2.0e-05").
    func update(_ done: Int, extra: String = "", force: Bool = false) {
        guard enabled else { return }
        if !extra.isEmpty { lastExtra = extra }
        let now = Date()
        if !force && done < total && now.timeIntervalSince(lastDraw) < 0.1 { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 28
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        var line = "\r\(label) \(bar) \(done)/\(total)  \(String(format: "%.1f", rate)) \(unit)/s  ETA \(Self.duration(eta))"
        if !lastExtra.isEmpty { line += "  " + lastExtra }
        StandardError.write(line + "\u{1B}[K")
    }

    func finish() {
        guard enabled else { return }
        update(total, force: true)
        StandardError.write("\n")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
