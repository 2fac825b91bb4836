import Foundation
import XCTest

/// The `ember` executable, run as a user would: outputs in the documented formats, and every kind of
/// bad input ending in one `error:` line on stderr and a non-zero exit.
final class CLITests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyBert = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/tiny-bert").path

    func testEncodeWritesNpyAndJsonl() throws {
        let dir = try temporaryFolder()
        let input = dir.appendingPathComponent("in.txt")
        try "the cat sat\na dog\n\nhello world\n".write(to: input, atomically: true, encoding: .utf8)
        let npy = dir.appendingPathComponent("out.npy"), jsonl = dir.appendingPathComponent("out.jsonl")
        var r = try ember(["encode", "--model", Self.tinyBert, "--input", input.path, "--output", npy.path, "--batch-size", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try ember(["encode", "--model", Self.tinyBert, "--input", input.path, "--output", jsonl.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Data(contentsOf: npy)
        XCTAssertEqual(Array(data.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<f4'") && header.contains("'shape': (4, 32)"), header)
        let floats = data[(10 + headerLength)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(floats.count, 4 * 32)
        let rows = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Double]
        }
        XCTAssertEqual(rows.count, 4)
        for (i, row) in rows.enumerated() {
            XCTAssertEqual(row.count, 32)
            XCTAssertEqual(row.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)   // Normalize is listed
            for j in 0..<32 { XCTAssertEqual(Float(row[j]), floats[i * 32 + j], accuracy: 1e-6) }
        }
        // --truncate-dim re-normalises the first D dimensions.
        let cut = dir.appendingPathComponent("cut.jsonl")
        r = try ember(["encode", "--model", Self.tinyBert, "--input", input.path, "--output", cut.path, "--truncate-dim", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let first = try JSONSerialization.jsonObject(with: Data(try String(contentsOf: cut, encoding: .utf8).split(separator: "\n")[0].utf8)) as! [Double]
        let norm = rows[0].prefix(8).reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in 0..<8 { XCTAssertEqual(first[j], rows[0][j] / norm, accuracy: 1e-5) }
    }

    func testTokenizePrintsOneArrayPerText() throws {
        let dir = try temporaryFolder()
        let input = dir.appendingPathComponent("in.jsonl")
        try "{\"text\": \"the cat\"}\n{\"text\": \"\"}\n".write(to: input, atomically: true, encoding: .utf8)
        let r = try ember(["tokenize", "--model", Self.tinyBert, "--input", input.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[1], "[2,3]")   // [CLS] [SEP] in tiny-bert's vocab
        let ids = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [Int]
        XCTAssertEqual(ids.first, 2); XCTAssertEqual(ids.last, 3)
    }

    func testBadInputEndsInOneLineErrors() throws {
        let dir = try temporaryFolder()
        let good = dir.appendingPathComponent("good.txt")
        try "hello\n".write(to: good, atomically: true, encoding: .utf8)
        let binary = dir.appendingPathComponent("bad.txt")
        try Data("ok line\n".utf8 + [0xff, 0xfe, 0x41] + Data("\n".utf8)).write(to: binary)
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        let badJSON = dir.appendingPathComponent("bad.jsonl")
        try "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n".write(to: badJSON, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("o.npy").path

        try expectFailure(["encode", "--input", good.path, "--output", out], mentioning: "--model")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", good.path, "--output", out, "--bogus"], mentioning: "--bogus")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", good.path, "--output", out, "--batch-size", "0"], mentioning: "--batch-size")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", good.path, "--output", dir.appendingPathComponent("o.csv").path], mentioning: "--output")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", binary.path, "--output", out], mentioning: "\(binary.path):2: not valid UTF-8")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", empty.path, "--output", out], mentioning: "\(empty.path): no texts")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", badJSON.path, "--output", out], mentioning: "\(badJSON.path):2: no field 'text'")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", dir.appendingPathComponent("missing.txt").path, "--output", out], mentioning: "missing.txt")
        try expectFailure(["encode", "--model", dir.appendingPathComponent("nomodel").path, "--input", good.path, "--output", out], mentioning: "nomodel: model folder not found")
        try expectFailure(["encode", "--model", Self.tinyBert, "--input", good.path, "--output", out, "--truncate-dim", "64"], mentioning: "--truncate-dim")
        try expectFailure(["frobnicate"], mentioning: "frobnicate")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output after a failure")

        // An unsupported architecture.
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try #"{"model_type": "gpt2", "architectures": ["GPT2Model"]}"#.write(to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try expectFailure(["tokenize", "--model", model.path, "--input", good.path], mentioning: "unsupported architecture 'gpt2'")
    }
}

/// Reads every F32 tensor of a safetensors file (minimal reader: the test must not trust Ember's).
func readF32Tensors(_ url: URL) throws -> [String: [Float]] {
    let data = try Data(contentsOf: url)
    let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try JSONSerialization.jsonObject(with: data[8..<(8 + n)]) as! [String: Any]
    var out: [String: [Float]] = [:]
    for (name, value) in header where name != "__metadata__" {
        let info = value as! [String: Any]
        guard info["dtype"] as? String == "F32" else { continue }
        let offsets = info["data_offsets"] as! [Int]
        let bytes = data[(8 + n + offsets[0])..<(8 + n + offsets[1])]
        out[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    return out
}

struct EmberResult { let status: Int32; let stdout: String; let stderr: String }

/// The built `ember` executable: next to the test bundle, or next to the test runner.
func emberExecutable() -> URL {
    var products = Bundle(for: BundleLocator.self).bundleURL.deletingLastPathComponent()
    if !FileManager.default.fileExists(atPath: products.appendingPathComponent("ember").path) {
        products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }
    return products.appendingPathComponent("ember")
}

private final class BundleLocator {}

/// Runs the built `ember` executable (it sits next to the test bundle) and collects its output.
/// `directory` is its working folder (default: this process's); `stdout` replaces the captured pipe.
func runEmber(_ arguments: [String], in directory: URL? = nil, stdout stdoutHandle: FileHandle? = nil) throws -> EmberResult {
    let process = Process()
    process.executableURL = emberExecutable()
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = stdoutHandle ?? out
    process.standardError = err
    try process.run()
    try? out.fileHandleForWriting.close()
    let stdout = stdoutHandle == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return EmberResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
}

extension XCTestCase {
    func ember(_ arguments: [String]) throws -> EmberResult { try runEmber(arguments) }

    /// A failing run: non-zero exit and exactly one `error:` line on stderr containing `fragment`.
    func expectFailure(_ arguments: [String], mentioning fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runEmber(arguments)
        XCTAssertNotEqual(result.status, 0, "should fail: \(arguments)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line on stderr, got: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("error: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(fragment), "expected '\(fragment)' in: \(result.stderr)", file: file, line: line)
    }

    /// A temporary folder removed when the test ends.
    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ember-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
