import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A report page read back with an XML parser (which also proves the markup well-formed): its charts,
/// the numbers each chart carries, its tables and its text.
final class Page: NSObject, XMLParserDelegate {
    private(set) var svgIDs: [String] = []
    /// chart id → series name → x → logged value (nil: a gap).
    private(set) var series: [String: [String: [Double: Double?]]] = [:]
    /// chart id → number of line segments ("M" commands) in each series' path, in order.
    private(set) var pathMoves: [String: [Int]] = [:]
    private(set) var svgHasViewBoxAndFullWidth: [String: Bool] = [:]
    private(set) var axisLabels: [String: [String]] = [:]
    /// table id → rows of cell texts.
    private(set) var tables: [String: [[String]]] = [:]
    private(set) var text = ""
    private(set) var documentTitle: String?

    private var stack: [String] = []
    private var svg: String?, table: String?, row: [String]?, cell: String?, axisLabel: String?, title: String?
    private var failure: Error?

    init(_ html: String) throws {
        super.init()
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = self
        guard parser.parse() else {
            throw NSError(domain: "Page", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "not well-formed XML at line \(parser.lineNumber) column \(parser.columnNumber): \(String(describing: parser.parserError ?? failure))"])
        }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        stack.append(name)
        switch name {
        case "svg":
            let id = attributes["id"] ?? "?"
            svg = id
            svgIDs.append(id)
            svgHasViewBoxAndFullWidth[id] = attributes["viewBox"] != nil && attributes["width"] == "100%"
        case "g" where attributes["class"] == "series":
            guard let svg, let name = attributes["data-name"], let data = attributes["data-points"] else { return }
            var values: [Double: Double?] = [:]
            for pair in data.split(separator: " ") {
                let parts = pair.split(separator: ":")
                guard parts.count == 2, let x = Double(parts[0]) else { continue }
                values[x] = parts[1] == "null" ? .some(nil) : Double(parts[1])
            }
            series[svg, default: [:]][name] = values
        case "path" where svg != nil:
            pathMoves[svg!, default: []].append(attributes["d"]?.filter { $0 == "M" }.count ?? 0)
        case "text" where attributes["class"] == "x-label" || attributes["class"] == "y-label":
            axisLabel = ""
        case "table":
            table = attributes["id"] ?? "?"
            tables[table!] = []
        case "tr": row = []
        case "td", "th": cell = ""
        case "title" where svg == nil: title = ""
        default: break
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        stack.removeLast()
        switch name {
        case "svg": svg = nil
        case "text" where axisLabel != nil:
            axisLabels[svg ?? "?", default: []].append(axisLabel!)
            axisLabel = nil
        case "table": table = nil
        case "tr":
            if let table, let row { tables[table]!.append(row) }
            row = nil
        case "td", "th":
            row?.append(cell ?? "")
            cell = nil
        case "title" where title != nil:
            if documentTitle == nil { documentTitle = title }
            title = nil
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if stack.last == "style" { return }
        text += string
        cell? += string
        axisLabel? += string
        title? += string
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { failure = parseError }
}
