import EmberCore
import Foundation

/// Reading the text files Ember's commands take: `.txt` (one text per line), `.jsonl` (one object per
/// line), `.csv`/`.tsv` (header row). Every problem is an `EmberError` naming the file and line.
public enum TextFiles {
    /// The lines of a UTF-8 file (without trailing "\r"), erroring on the first invalid line.
    public static func lines(of url: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw EmberError("\(url.path): is a folder, not a file")
            }
            throw EmberError("\(url.path): file not found or unreadable")
        }
        var lines: [String] = []
        var lineNumber = 0
        var start = data.startIndex
        func add(_ range: Range<Data.Index>) throws {
            lineNumber += 1
            var slice = data[range]
            if slice.last == 0x0D { slice = slice.dropLast() }
            guard let text = String(data: slice, encoding: .utf8) else {
                throw EmberError("\(url.path):\(lineNumber): not valid UTF-8")
            }
            lines.append(lineNumber == 1 && text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        }
        while let newline = data[start...].firstIndex(of: 0x0A) {
            try add(start..<newline)
            start = data.index(after: newline)
        }
        if start < data.endIndex { try add(start..<data.endIndex) }
        return lines
    }

    /// Texts for `encode`/`tokenize`: `.txt` lines, `.jsonl` field `field` (default "text"), or the
    /// `field` (default "text", else the only) column of a `.csv`/`.tsv`.
    public static func texts(from url: URL, field: String? = nil) throws -> [String] {
        let texts: [String]
        switch url.pathExtension.lowercased() {
        case "txt":
            texts = try lines(of: url)
        case "jsonl":
            texts = try jsonObjects(from: url).map { line, object in
                let key = field ?? "text"
                guard let value = object[key] else { throw EmberError("\(url.path):\(line): no field '\(key)'") }
                guard let text = value as? String else { throw EmberError("\(url.path):\(line): field '\(key)' is not a string") }
                return text
            }
        case "csv", "tsv":
            let table = try Delimited.read(url)
            let key = field ?? (table.header.contains("text") || table.header.count != 1 ? "text" : table.header[0])
            guard let column = table.header.firstIndex(of: key) else {
                throw EmberError("\(url.path):1: no column '\(key)' in the header (\(table.header.joined(separator: ", ")))")
            }
            texts = table.rows.map { $0.fields[column] }
        default:
            throw EmberError("\(url.path): unsupported input type '.\(url.pathExtension)' (use .txt, .jsonl, .csv or .tsv)")
        }
        guard !texts.isEmpty else { throw EmberError("\(url.path): no texts in the file") }
        return texts
    }

    /// The objects of a JSON-lines file with their 1-based line numbers; blank lines are skipped.
    public static func jsonObjects(from url: URL) throws -> [(Int, [String: Any])] {
        var result: [(Int, [String: Any])] = []
        for (index, line) in try lines(of: url).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])) as? [String: Any] else {
                throw EmberError("\(url.path):\(index + 1): not a JSON object")
            }
            result.append((index + 1, object))
        }
        return result
    }
}

/// Comma- or tab-separated text with a header row, quoted fields per RFC 4180 (quotes doubled inside
/// quoted fields, delimiters and newlines allowed inside quotes).
public enum Delimited {
    public struct Row { public let line: Int; public let fields: [String] }
    public struct Table { public let header: [String]; public let rows: [Row] }

    /// Parsed by Unicode scalars, not Characters: a separator followed by a combining mark would
    /// otherwise merge with it into one grapheme cluster and the field boundary would be missed.
    public static func read(_ url: URL) throws -> Table {
        let separator: Unicode.Scalar = url.pathExtension.lowercased() == "tsv" ? "\t" : ","
        let text = try TextFiles.lines(of: url).joined(separator: "\n")
        var records: [Row] = []
        var field = String.UnicodeScalarView(), fields: [String] = []
        var inQuotes = false, line = 1, recordLine = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endField() { fields.append(String(field)); field = String.UnicodeScalarView() }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Row(line: recordLine, fields: fields)) }
            fields = []
        }
        while let c = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == separator {
                endField()
            } else if c == "\n" {
                endRecord(); line += 1; recordLine = line
            } else {
                field.append(c)
            }
        }
        if inQuotes { throw EmberError("\(url.path):\(recordLine): unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        guard let header = records.first else { throw EmberError("\(url.path): empty file (a header row is required)") }
        for row in records.dropFirst() where row.fields.count != header.fields.count {
            throw EmberError("\(url.path):\(row.line): \(row.fields.count) fields, the header has \(header.fields.count)")
        }
        return Table(header: header.fields, rows: Array(records.dropFirst()))
    }
}
