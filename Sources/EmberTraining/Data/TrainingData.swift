import EmberCore
import EmberModel
import Foundation

/// A table of training texts: one row per example, one column per role. Columns are used in order —
/// the first is the anchor, the second the positive, the rest hard negatives (cli.md, "Files"; the
/// sentence-transformers collator keeps dataset column order, spec §10.2).
public struct TrainingData {
    /// The text columns, in the order the loss sees them.
    public let columnNames: [String]
    /// `rows[i][c]` is the text of example `i` in column `columnNames[c]`.
    public let rows: [[String]]
    /// The 1-based line of the file each row starts on (nil for data built in memory), so errors about
    /// a row can name it.
    public let lineNumbers: [Int]?

    public init(columnNames: [String], rows: [[String]], lineNumbers: [Int]? = nil) {
        precondition(rows.allSatisfy { $0.count == columnNames.count }, "every row needs one value per column")
        precondition(lineNumbers.map { $0.count == rows.count } ?? true, "one line number per row")
        self.columnNames = columnNames
        self.rows = rows
        self.lineNumbers = lineNumbers
    }

    /// Columns that carry labels or bookkeeping, not texts: dropped when no `--columns` is given, as the
    /// sentence-transformers data collator (`label`, `labels`, `score`, `scores`) and
    /// `NoDuplicatesBatchSampler` (`dataset_name`) do.
    public static let labelColumns: Set<String> = ["label", "labels", "score", "scores", "dataset_name"]

    /// Loads `.jsonl` (one object per line) or `.csv` / `.tsv` (header row) training data.
    ///
    /// Without `columns`, the columns are the file's own, in file order (for JSON lines: the key order
    /// of the first object as written in the text), minus `labelColumns`. With `columns` (`--columns`),
    /// exactly those columns in that order. Every selected value must be a string; at least two text
    /// columns are required. Errors are `EmberError`s naming the file (and line where there is one).
    /// `leading` (without `columns`) keeps only the file's first `leading` text columns, so rows need
    /// not carry the others (`ember mine` reads anchor and positive and ignores the rest, as the reference does).
    public static func load(_ url: URL, columns: [String]? = nil, leading: Int? = nil) throws -> TrainingData {
        let data: TrainingData
        switch url.pathExtension.lowercased() {
        case "jsonl":
            data = try loadJSONLines(url, columns: columns, leading: leading)
        case "csv", "tsv":
            data = try loadDelimited(url, columns: columns, leading: leading)
        default:
            throw EmberError("\(url.path): unsupported training data type '.\(url.pathExtension)' (use .jsonl, .csv or .tsv)")
        }
        guard data.columnNames.count >= 2 else {
            let found = data.columnNames.isEmpty ? "none" : data.columnNames.joined(separator: ", ")
            throw EmberError("\(url.path): training needs at least 2 text columns (anchor, positive); found \(data.columnNames.count) (\(found))")
        }
        return data
    }

    /// The selected column names: `requested` validated against `available`, or `available` minus
    /// label columns.
    static func select(_ requested: [String]?, from available: [String], file: String, leading: Int? = nil) throws -> [String] {
        guard let requested else {
            let texts = available.filter { !labelColumns.contains($0) }
            return leading.map { Array(texts.prefix($0)) } ?? texts
        }
        var seen = Set<String>()
        for name in requested {
            guard available.contains(name) else {
                throw EmberError("--columns: no column '\(name)' in \(file) (has \(available.joined(separator: ", ")))")
            }
            guard seen.insert(name).inserted else { throw EmberError("--columns: column '\(name)' named twice") }
        }
        return requested
    }

    // MARK: JSON lines

    private static func loadJSONLines(_ url: URL, columns: [String]?, leading: Int?) throws -> TrainingData {
        let objects = try TextFiles.jsonObjects(from: url)
        guard let (firstLine, firstObject) = objects.first else {
            throw EmberError("\(url.path): empty file (no training rows)")
        }
        // JSONSerialization returns an unordered dictionary, so the column order comes from the raw
        // text of the first object. The file is read a second time for that line; loading happens once
        // per run, and it keeps the one JSON-lines reader in TextFiles.
        let raw = try TextFiles.lines(of: url)[firstLine - 1]
        var available = (try? topLevelKeys(ofJSONObject: raw)) ?? firstObject.keys.sorted()
        if columns != nil {
            // `--columns` may name a key the first object lacks: that is a missing field on line
            // `firstLine`, not an unknown column, if a later object has it.
            var seen = Set(available)
            for (_, object) in objects.dropFirst() {
                for key in object.keys.sorted() where seen.insert(key).inserted { available.append(key) }
            }
        }
        let names = try select(columns, from: available, file: url.path, leading: leading)
        var rows: [[String]] = []
        rows.reserveCapacity(objects.count)
        for (line, object) in objects {
            var row: [String] = []
            row.reserveCapacity(names.count)
            for name in names {
                guard let value = object[name] else {
                    throw EmberError("\(url.path):\(line): no field '\(name)' (every row needs the columns \(names.joined(separator: ", ")))")
                }
                guard let text = value as? String else {
                    throw EmberError("\(url.path):\(line): field '\(name)' is \(describe(value)), not a string")
                }
                row.append(text)
            }
            rows.append(row)
        }
        return TrainingData(columnNames: names, rows: rows, lineNumbers: objects.map(\.0))
    }

    /// A JSON value's kind, for error messages.
    private static func describe(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let number = value as? NSNumber {
            // JSON booleans arrive as NSNumbers of Objective-C type "c" (char), numbers as "q"/"d"/….
            return JSONField.isBoolean(number) ? "a boolean (\(number.boolValue))" : "a number (\(number))"
        }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "not a string"
    }

    /// The keys of a JSON object's top level, in the order they appear in `text` (first occurrence of
    /// duplicates). Only called on text JSONSerialization already accepted, so it may be lenient: it
    /// tracks strings and nesting, and decodes each key's escapes through JSONSerialization.
    static func topLevelKeys(ofJSONObject text: String) throws -> [String] {
        let bytes = Array(text.utf8)
        var keys: [String] = []
        var seen = Set<String>()
        var depth = 0
        var expectingKey = false
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < bytes.count && bytes[i] != UInt8(ascii: "\"") {
                    i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                if depth == 1 && expectingKey {
                    let literal = Data(bytes[start...min(i, bytes.count - 1)])
                    guard let key = try JSONSerialization.jsonObject(with: literal, options: [.fragmentsAllowed]) as? String else {
                        throw EmberError("not a JSON key")
                    }
                    if seen.insert(key).inserted { keys.append(key) }
                    expectingKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectingKey = true }
            default:
                break
            }
            i += 1
        }
        return keys
    }

    // MARK: CSV / TSV

    private static func loadDelimited(_ url: URL, columns: [String]?, leading: Int?) throws -> TrainingData {
        let table = try Delimited.read(url)
        var seen = Set<String>()
        for name in table.header where !seen.insert(name).inserted {
            throw EmberError("\(url.path):1: column '\(name)' appears twice in the header")
        }
        guard !table.rows.isEmpty else { throw EmberError("\(url.path): empty file (a header but no training rows)") }
        let names = try select(columns, from: table.header, file: url.path, leading: leading)
        let indices = names.map { table.header.firstIndex(of: $0)! }
        let rows = table.rows.map { row in indices.map { row.fields[$0] } }
        return TrainingData(columnNames: names, rows: rows, lineNumbers: table.rows.map(\.line))
    }
}
