import ArgumentParser
import EmberCore
import EmberMPI
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
        } catch {
            guard let (message, code) = describe(error) else { Ember.exit(withError: error) }   // --help, --version
            // Under mpirun, every rank meets the same bad flag: rank 0 says it (`ember train` reports its own
            // ranks' errors through RankedJob).
            if !isQuietRank { StandardError.write("error: \(message)\n") }
            exit(code)
        }
    }

    /// An error as the one line Ember prints (without "error: ") and its exit code; nil for the parser's
    /// --help and --version, which exit 0 with their own text.
    static func describe(_ error: Error) -> (String, Int32)? {
        if let error = error as? EmberError { return (error.message, 1) }
        let code = Ember.exitCode(for: error)
        if code == .success { return nil }
        let message = Ember.message(for: error)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("See '") }
            .joined(separator: "; ")
        return (message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message, code.rawValue == 0 ? 1 : code.rawValue)
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

/// Prints warnings on stderr, one line each (rank 0 only under mpirun: every rank would say the same).
func warn(_ message: String) {
    if !isQuietRank { StandardError.write("warning: \(message)\n") }
}

/// A rank other than 0 of an mpirun job: it leaves notes, warnings and progress to rank 0.
var isQuietRank: Bool { (Communicator.active?.rank ?? Communicator.launchRank ?? 0) != 0 }

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


/// `--batch-size` of encode/evaluate: checked before anything is allocated.
func checkBatchSize(_ batchSize: Int) throws {
    guard (1...65_536).contains(batchSize) else {
        throw ValidationError("--batch-size must be between 1 and 65536, got \(batchSize)")
    }
}
