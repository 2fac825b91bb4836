import EmberCore
@testable import EmberTraining
import Foundation
import XCTest

/// Loading training data: formats, column selection and order, label columns, and errors that name
/// the file and line.
final class DataTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ember-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func write(_ name: String, _ text: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Asserts that loading fails with exactly `message` (with `FILE` standing for the file's path).
    private func assertError(_ url: URL, columns: [String]? = nil, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TrainingData.load(url, columns: columns), file: file, line: line) { error in
            XCTAssertEqual((error as? EmberError)?.message, message.replacingOccurrences(of: "FILE", with: url.path),
                           file: file, line: line)
        }
    }

    // MARK: formats

    func testJSONLinesKeepsTheFirstObjectsKeyOrder() throws {
        // Not alphabetical, and not the order of the second line: the first object's text decides.
        let url = try write("d.jsonl", """
            {"query": "what is a cat", "zebra": "a cat is a feline", "anchor_neg": "dogs bark"}

            {"anchor_neg": "x \\"y\\"", "query": "q2", "zebra": "p2"}
            """)
        let data = try TrainingData.load(url)
        XCTAssertEqual(data.columnNames, ["query", "zebra", "anchor_neg"])
        XCTAssertEqual(data.rows, [["what is a cat", "a cat is a feline", "dogs bark"], ["q2", "p2", "x \"y\""]])
    }

    func testTopLevelKeysSkipNestedObjectsAndDecodeEscapes() throws {
        let keys = try TrainingData.topLevelKeys(ofJSONObject: #"{"b\u00e9": {"z": [1, {"y": 2}], "w": "}"}, "a,\"": "v:{", "b\u00e9": 3, "c": []}"#)
        XCTAssertEqual(keys, ["bé", "a,\"", "c"])
    }

    func testCSVWithQuotedFields() throws {
        let url = try write("d.csv", "anchor,positive,negative\r\n\"a, with comma\",\"say \"\"hi\"\"\",\"two\nlines\"\nplain,b,c\n")
        let data = try TrainingData.load(url)
        XCTAssertEqual(data.columnNames, ["anchor", "positive", "negative"])
        XCTAssertEqual(data.rows, [["a, with comma", "say \"hi\"", "two\nlines"], ["plain", "b", "c"]])
    }

    /// A separator followed by a combining mark (U+0301) forms one grapheme cluster with it; the
    /// reader splits on scalars, so the boundary is still seen (and the mark stays with its field).
    func testSeparatorBeforeACombiningMarkStillSeparates() throws {
        let url = try write("d.csv", "anchor,positive,negative\nq,\u{301}accent,c\u{301}\n")
        let data = try TrainingData.load(url)
        XCTAssertEqual(data.rows.map { $0.map { $0.unicodeScalars.map(\.value) } },
                       [[[0x71], [0x301] + "accent".unicodeScalars.map(\.value), [0x63, 0x301]]])
        XCTAssertEqual(data.lineNumbers, [2])
        let tsv = try write("d.tsv", "a\tb\nx\t\u{301}y\n")
        XCTAssertEqual(try TrainingData.load(tsv).rows.map { $0.map { $0.unicodeScalars.count } }, [[1, 2]])
    }

    func testTSV() throws {
        let url = try write("d.tsv", "sentence1\tsentence2\nhello, world\t\"quoted\ttab\"\n")
        let data = try TrainingData.load(url)
        XCTAssertEqual(data.columnNames, ["sentence1", "sentence2"])
        XCTAssertEqual(data.rows, [["hello, world", "quoted\ttab"]])
    }

    // MARK: columns

    func testColumnsSelectAndOrder() throws {
        let jsonl = try write("d.jsonl", #"{"a": "1", "b": "2", "c": "3", "d": 4}"# + "\n" + #"{"a": "5", "b": "6", "c": "7", "d": 8}"#)
        let data = try TrainingData.load(jsonl, columns: ["c", "a"])
        XCTAssertEqual(data.columnNames, ["c", "a"])
        XCTAssertEqual(data.rows, [["3", "1"], ["7", "5"]])

        let csv = try write("d.csv", "a,b,c\n1,2,3\n")
        let selected = try TrainingData.load(csv, columns: ["b", "c", "a"])
        XCTAssertEqual(selected.columnNames, ["b", "c", "a"])
        XCTAssertEqual(selected.rows, [["2", "3", "1"]])
    }

    func testLabelColumnsAreDroppedOnlyWithoutColumns() throws {
        let jsonl = try write("d.jsonl", #"{"label": 1, "anchor": "a", "score": 0.5, "positive": "p", "dataset_name": "x", "labels": [1], "scores": null}"#)
        let data = try TrainingData.load(jsonl)
        XCTAssertEqual(data.columnNames, ["anchor", "positive"])
        XCTAssertEqual(data.rows, [["a", "p"]])

        let csv = try write("d.csv", "anchor,label,positive,score\nq,1,d,0.9\n")
        XCTAssertEqual(try TrainingData.load(csv).columnNames, ["anchor", "positive"])
        // Named explicitly, a label column is a text column like any other.
        XCTAssertEqual(try TrainingData.load(csv, columns: ["anchor", "label"]).rows, [["q", "1"]])
    }

    func testColumnsMayNameAKeyOnlyLaterObjectsHave() throws {
        let url = try write("d.jsonl", #"{"a": "1", "b": "2"}"# + "\n" + #"{"a": "1", "b": "2", "c": "3"}"#)
        assertError(url, columns: ["a", "c"], "FILE:1: no field 'c' (every row needs the columns a, c)")
    }

    // MARK: errors

    func testMissingFieldNamesFileLineAndColumn() throws {
        let url = try write("d.jsonl", #"{"anchor": "a", "positive": "p"}"# + "\n\n" + #"{"anchor": "b"}"#)
        assertError(url, "FILE:3: no field 'positive' (every row needs the columns anchor, positive)")
    }

    func testNonStringValues() throws {
        let number = try write("n.jsonl", #"{"anchor": "a", "positive": "p"}"# + "\n" + #"{"anchor": "a", "positive": 12}"#)
        assertError(number, "FILE:2: field 'positive' is a number (12), not a string")
        let null = try write("z.jsonl", #"{"anchor": null, "positive": "p"}"#)
        assertError(null, "FILE:1: field 'anchor' is null, not a string")
        let boolean = try write("b.jsonl", #"{"anchor": "a", "positive": true}"#)
        assertError(boolean, "FILE:1: field 'positive' is a boolean (true), not a string")
        let array = try write("a.jsonl", #"{"anchor": ["a"], "positive": "p"}"#)
        assertError(array, "FILE:1: field 'anchor' is an array, not a string")
    }

    func testUnknownColumn() throws {
        let jsonl = try write("d.jsonl", #"{"anchor": "a", "positive": "p", "label": 1}"#)
        assertError(jsonl, columns: ["anchor", "x"], "--columns: no column 'x' in FILE (has anchor, positive, label)")
        let csv = try write("d.csv", "a,b,c\n1,2,3\n")
        assertError(csv, columns: ["a", "d"], "--columns: no column 'd' in FILE (has a, b, c)")
        assertError(csv, columns: ["a", "a"], "--columns: column 'a' named twice")
    }

    func testTooFewColumns() throws {
        let jsonl = try write("d.jsonl", #"{"text": "a", "label": 1}"#)
        assertError(jsonl, "FILE: training needs at least 2 text columns (anchor, positive); found 1 (text)")
        let csv = try write("d.csv", "a,b\n1,2\n")
        assertError(csv, columns: ["b"], "FILE: training needs at least 2 text columns (anchor, positive); found 1 (b)")
    }

    func testEmptyFiles() throws {
        assertError(try write("e.jsonl", ""), "FILE: empty file (no training rows)")
        assertError(try write("blank.jsonl", "\n  \n"), "FILE: empty file (no training rows)")
        assertError(try write("e.csv", ""), "FILE: empty file (a header row is required)")
        assertError(try write("h.csv", "anchor,positive\n"), "FILE: empty file (a header but no training rows)")
    }

    func testOtherErrors() throws {
        assertError(try write("bad.jsonl", #"{"a": "1", "b": "2"}"# + "\n[1, 2]"), "FILE:2: not a JSON object")
        assertError(try write("short.csv", "a,b\n1,2\n3\n"), "FILE:3: 1 fields, the header has 2")
        assertError(try write("dup.csv", "a,b,a\n1,2,3\n"), "FILE:1: column 'a' appears twice in the header")
        assertError(try write("d.txt", "x\n"), "FILE: unsupported training data type '.txt' (use .jsonl, .csv or .tsv)")
        assertError(folder.appendingPathComponent("missing.jsonl"), "FILE: file not found or unreadable")
    }
}
