import Dispatch
import Foundation

/// Wall-clock totals per named region, for "where does the time go" in benchmarks. Off unless
/// EMBER_PROFILE=1 (one branch per region when off); `report()` prints the table to stderr.
public enum Profiler {
    nonisolated(unsafe) public static var enabled = ProcessInfo.processInfo.environment["EMBER_PROFILE"] == "1"
    nonisolated(unsafe) static var totals: [String: (UInt64, Int)] = [:]
    static let lock = NSLock()

    @inline(__always)
    public static func measure<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        if !enabled { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        lock.lock()   // regions may run on several workers at once (CoreWorkers)
        let (t, n) = totals[name] ?? (0, 0)
        totals[name] = (t + elapsed, n + 1)
        lock.unlock()
        return result
    }

    public static func reset() { totals = [:] }

    public static func report() {
        guard enabled, !totals.isEmpty else { return }
        let all = totals.values.reduce(0) { $0 + $1.0 }
        var lines = ["region                          seconds   share   calls"]
        for (name, (t, n)) in totals.sorted(by: { $0.value.0 > $1.value.0 }) {
            lines.append(name.padding(toLength: 30, withPad: " ", startingAt: 0)
                + String(format: "%9.3f  %5.1f%%  %6d", Double(t) / 1e9, 100 * Double(t) / Double(max(all, 1)), n))
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
