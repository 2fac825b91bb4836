import Foundation

/// A YAML tree small enough for a model card's front matter, written in the block style of the cards
/// sentence-transformers writes (sequences at their key's indentation).
indirect enum YAMLNode {
    case string(String)
    case number(Double)
    case integer(Int)
    case list([YAMLNode])
    case map([(String, YAMLNode)])

    /// The document's lines (a top-level map or list).
    func lines(indent: Int = 0) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .map(let pairs):
            return pairs.flatMap { key, value -> [String] in
                let head = pad + YAMLNode.scalar(key) + ":"
                switch value {
                case .list(let items) where items.isEmpty: return [head + " []"]
                case .map(let pairs) where pairs.isEmpty: return [head + " {}"]
                case .list: return [head] + value.lines(indent: indent)
                case .map: return [head] + value.lines(indent: indent + 2)
                default: return [head + " " + value.scalarText]
                }
            }
        case .list(let items):
            return items.flatMap { item -> [String] in
                switch item {
                case .map, .list:
                    // The item's first line goes on the dash; the rest keep the item's indentation.
                    var sub = item.lines(indent: indent + 2)
                    if case .list = item { return [pad + "-"] + sub }
                    guard !sub.isEmpty else { return [pad + "- {}"] }
                    sub[0] = pad + "- " + sub[0].dropFirst(indent + 2)
                    return sub
                default:
                    return [pad + "- " + item.scalarText]
                }
            }
        default:
            return [pad + scalarText]
        }
    }

    var scalarText: String {
        switch self {
        case .string(let text): return YAMLNode.scalar(text)
        case .integer(let value): return String(value)
        case .number(let value): return YAMLNode.float(value)
        default: return ""
        }
    }

    /// A float YAML 1.1 readers (PyYAML) resolve as one: they need a decimal point and a signed exponent,
    /// so Swift's `1e-05` becomes `1.0e-05`. The shortest round-trip digits keep the value exact.
    static func float(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? ".nan" : (value > 0 ? ".inf" : "-.inf") }
        var text = String(value)
        if !text.contains(".") {
            if let e = text.firstIndex(of: "e") { text.insert(contentsOf: ".0", at: e) } else { text += ".0" }
        }
        return text
    }

    /// Plain when the text cannot be read as anything but this string; double-quoted (JSON-style escapes,
    /// which YAML shares) otherwise.
    static func scalar(_ text: String) -> String {
        let plainFirst = CharacterSet.letters
        let plainRest = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_-./@:+"))
        let reserved: Set<String> = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
        if let first = text.unicodeScalars.first, text.unicodeScalars.allSatisfy({ $0.isASCII }),
           plainFirst.contains(first), text.unicodeScalars.allSatisfy(plainRest.contains),
           !text.hasSuffix(":"), !reserved.contains(text.lowercased()) {
            return text
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                // Control characters, and the characters YAML readers take for line breaks or refuse.
                let v = scalar.value
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0xFEFF || v >= 0xFFFE && v <= 0xFFFF {
                    out += String(format: "\\u%04X", v)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Markdown pieces of the card.
enum Markdown {
    /// A GitHub-flavoured table; cells must already be escaped (`cell`).
    static func table(_ header: [String], _ rows: [[String]], alignRight: Set<Int> = []) -> String {
        let rule = header.indices.map { alignRight.contains($0) ? "---:" : ":---" }
        return ([header, rule] + rows).map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n")
    }

    /// Text as one table cell: at most `limit` characters, HTML special characters and `|` escaped,
    /// line breaks as `<br>`, inside `<code>` so Markdown emphasis in the text stays literal.
    static func cell(_ text: String, limit: Int = 120) -> String {
        var shown = text
        if shown.count > limit { shown = String(shown.prefix(limit - 1)) + "…" }
        var out = ""
        for character in shown {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "|": out += "\\|"
            case "\n", "\r\n", "\r", "\u{2028}", "\u{2029}": out += "<br>"
            case "`": out += "&#96;"
            default: out.append(character)
            }
        }
        return "<code>" + out + "</code>"
    }

    /// A shell word (single-quoted unless it is plainly safe).
    static func shellWord(_ text: String) -> String {
        let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_-./@:+=,"))
        if !text.isEmpty, text.unicodeScalars.allSatisfy({ $0.isASCII && safe.contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A number to 4 decimals for tables (the reference rounds its tables to 4 too); "-" when undefined.
    static func round4(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.4f", value)
    }

    /// "1 h 02 min", "3 min 04 s", "12.3 s".
    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let total = Int(seconds.rounded())
        if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return String(format: "%d h %02d min", total / 3600, (total % 3600) / 60)
    }
}
