import CFuzzer
import Foundation

/// Runs libFuzzer on `test` with the process's arguments and exits with its status. `test` gets the
/// input bytes (possibly empty) and returns 0.
public func runFuzzer(_ test: @escaping @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}

/// Scratch files for one fuzzer process: one folder (in $TMPDIR, named after the process id), created
/// once, whose files are overwritten on every input.
public enum Scratch {
    public static let folder: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ember-fuzz-\(ProcessInfo.processInfo.processIdentifier)", isDirectory: true)
        try? FileManager.default.removeItem(at: url)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Writes `bytes` to `folder/name` (creating sub-folders) and returns its URL.
    @discardableResult
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, to name: String) -> URL {
        let url = folder.appendingPathComponent(name)
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(buffer: bytes).write(to: url)
        return url
    }

    public static func remove(_ name: String) {
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
    }

    /// Copies `source` (a file) to `folder/name` unless it is already there.
    public static func copy(_ source: String, to name: String) {
        let url = folder.appendingPathComponent(name)
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! FileManager.default.copyItem(atPath: source, toPath: url.path)
    }
}

/// Strings every tokenizer harness encodes with the tokenizer it built.
public let fuzzTexts: [String] = [
    "", "Hello, world!", "the short text is of anchor", "[CLS] a [SEP] b [MASK] c [UNK] [PAD]",
    "Ünïcödé e\u{301} 한국어 中文字 ﬁ İstanbul ΣΊΣΥΦΟΣ", "a\u{0}b\u{FFFD}c\t\r\n\u{200B}d\u{2028}e",
    String(repeating: "x", count: 150), String(repeating: "ab ", count: 40), "😀👍🏽 ##s ##ing tests",
]
