import Foundation

/// Reads a Markdown file's YAML front matter with a real YAML parser (Python's PyYAML, Debian's
/// python3-yaml, which `make deps` installs), so the tests check what the Hugging Face Hub and
/// sentence-transformers will read rather than what Ember meant to write.
public enum YAMLFrontMatter {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The text between the leading `---` line and the next `---` line.
    public static func text(of markdown: String) throws -> String {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == "---", let end = lines.dropFirst().firstIndex(of: "---") else {
            throw Failure(description: "no front matter between --- lines")
        }
        return lines[1..<end].joined(separator: "\n")
    }

    /// The parsed YAML document as JSON values (dictionaries, arrays, numbers, strings, NSNull).
    public static func parse(_ yaml: String) throws -> Any {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin)))"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(yaml.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 yaml.safe_load failed (python3-yaml installed? make deps): " + String(decoding: err, as: UTF8.self))
        }
        return exactNumbers(try JSONSerialization.jsonObject(with: out, options: .fragmentsAllowed))
    }

    /// Numbers as Doubles read from their digits (JSONSerialization's doubleValue can be an ulp off on
    /// Linux); booleans stay booleans.
    static func exactNumbers(_ value: Any) -> Any {
        switch value {
        case let dictionary as [String: Any]: return dictionary.mapValues(exactNumbers)
        case let array as [Any]: return array.map(exactNumbers)
        case let number as NSNumber where String(cString: number.objCType) != "c": return Double(number.stringValue) ?? number.doubleValue
        default: return value
        }
    }

    /// `parse(text(of: markdown))` as a dictionary.
    public static func parseFrontMatter(_ markdown: String) throws -> [String: Any] {
        guard let object = try parse(text(of: markdown)) as? [String: Any] else { throw Failure(description: "front matter is not a mapping") }
        return object
    }
}
