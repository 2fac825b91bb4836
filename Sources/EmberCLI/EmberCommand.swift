import ArgumentParser
import EmberCore
import Foundation

/// `ember`: the command-line tool. Each subcommand lives in its own file; errors end as one line on
/// stderr (`error: …` naming the file, line or flag) and a non-zero exit.
struct Ember: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ember",
        abstract: "Fine-tune and serve sentence-embedding models (BERT family).",
        subcommands: [Encode.self, Tokenize.self, Train.self, Evaluate.self, Bench.self])
}

@main
enum EmberMain {
    static func main() {
        do {
            var command = try Ember.parseAsRoot()
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
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(code)
    }
}

/// Prints warnings on stderr, one line each.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
