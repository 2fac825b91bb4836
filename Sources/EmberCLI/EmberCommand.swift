import ArgumentParser
import EmberCore
import Foundation

/// `ember`: the command-line tool. Each subcommand lives in its own file; errors end as one line on
/// stderr (`error: …` naming the file, line or flag) and a non-zero exit.
struct Ember: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ember",
        abstract: "Fine-tune and serve sentence-embedding models (BERT family).",
        version: emberVersion,
        subcommands: [Encode.self, Tokenize.self, Train.self, Evaluate.self, Mine.self, Report.self, Bench.self])
}

@main
enum EmberMain {
    static func main() {
        // A closed pipe is an error to report (EPIPE from write), not a silent death by signal.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try Ember.parseAsRoot(negativeNumbersAttached(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let error as EmberError {
            fail(error.message, code: 1)
        } catch {
            let code = Ember.exitCode(for: error)
            if code == .success { Ember.exit(withError: error) }   // --help, --version
            let message = Ember.message(for: error)
                .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("See '") }
                .joined(separator: "; ")
            fail(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message, code: code.rawValue == 0 ? 1 : code.rawValue)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        StandardError.write("error: \(message)\n")
        exit(code)
    }

    /// `--flag -1` → `--flag=-1`: the argument parser would take "-1" for a flag and report the value as
    /// missing; attached, the value reaches the flag's own range check ("must be at least 1, got -1").
    static func negativeNumbersAttached(_ arguments: [String]) -> [String] {
        var out: [String] = []
        for argument in arguments {
            if let last = out.last, last.hasPrefix("--"), !last.contains("="), argument.hasPrefix("-"),
               Double(argument) != nil {
                out[out.count - 1] = last + "=" + argument
            } else {
                out.append(argument)
            }
        }
        return out
    }
}

/// Prints warnings on stderr, one line each.
func warn(_ message: String) {
    StandardError.write("warning: \(message)\n")
}

/// Standard output through write(2): a failed write (a closed pipe, a full disk) is an `EmberError`
/// naming stdout, never a crash (FileHandle.write raises an uncatchable exception).
enum StandardOutput {
    static func write(_ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(STDOUT_FILENO, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EmberError("stdout: cannot write (\(String(cString: strerror(errno))))")
                }
                offset += n
            }
        }
    }
}

/// Standard error through write(2); a failure to write there has nowhere to be reported and is ignored.
enum StandardError {
    static func write(_ text: String) {
        let data = Array(text.utf8)
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { Foundation.write(STDERR_FILENO, $0.baseAddress! + offset, data.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// `--batch-size` of encode/evaluate: checked before anything is allocated.
func checkBatchSize(_ batchSize: Int) throws {
    guard (1...65_536).contains(batchSize) else {
        throw ValidationError("--batch-size must be between 1 and 65536, got \(batchSize)")
    }
}
