import Foundation

/// Processes for tests of what killed runs leave behind.
public enum Processes {
    /// The pid of a process that has exited, so leftovers named after it are stale.
    public static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
