import Foundation

/// JSON that never carries a non-finite number. JSONSerialization refuses NaN and ±Inf with an
/// exception-like error that names nothing, and `nan` is not JSON; Ember writes `null` for a value that
/// is undefined (a metric over an empty set, a correlation of constant scores) and says so in a warning.
public enum JSONOutput {
    /// `object` with every non-finite Double/Float (at any depth) replaced by `NSNull`.
    public static func sanitized(_ object: Any) -> Any {
        switch object {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? f : NSNull()
        case let dictionary as [String: Any]: return dictionary.mapValues(sanitized)
        case let array as [Any]: return array.map(sanitized)
        default: return object
        }
    }

    /// Serialises `object` (sanitised), sorted keys; `pretty` for files people read.
    public static func data(_ object: Any, pretty: Bool = false) -> Data {
        let options: JSONSerialization.WritingOptions = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        // Sanitised plain dictionaries/arrays/strings/numbers always serialise; a failure is a programming error.
        guard let data = try? JSONSerialization.data(withJSONObject: sanitized(object), options: options) else {
            preconditionFailure("JSONOutput: object is not JSON-serialisable")
        }
        return data
    }

    public static func string(_ object: Any) -> String { String(decoding: data(object), as: UTF8.self) }
}

/// Typed reads of JSONSerialization's values. JSON booleans arrive as NSNumbers too (Objective-C type
/// "c"), so `true` would pass for 1 and `"score": true` for a score: these accessors tell them apart.
public enum JSONField {
    /// A JSON number (not a boolean) as a Double.
    public static func number(_ value: Any?) -> Double? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        // On Linux, JSONSerialization's numbers keep the input's digits but their doubleValue is often an
        // ulp or two off (28% of random doubles); reading the digits back gives the correctly rounded value,
        // so a metric read from a log equals the one written there.
        return Double(n.stringValue) ?? n.doubleValue
    }

    /// A JSON number with an integral value (not a boolean).
    public static func integer(_ value: Any?) -> Int? { number(value).flatMap { Int(exactly: $0) } }

    /// A JSON boolean.
    public static func boolean(_ value: Any?) -> Bool? {
        guard let n = value as? NSNumber, isBoolean(n) else { return nil }
        return n.boolValue
    }

    public static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
}

/// JSON literals written one by one, formatted as Python's json.dumps prints them (floats always with a
/// decimal point: `20.0`, not `20`): the reference's loss parameters in a model card. A string literal is
/// also a Python string literal with the same value, so the card's Python snippets use it too.
public enum JSONLiteral {
    public static func int(_ value: Int) -> String { String(value) }
    public static func bool(_ value: Bool) -> String { value ? "true" : "false" }
    public static func float(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        let text = String(value)   // shortest representation that reads back exactly
        return text.contains(".") || text.contains("e") ? text : text + ".0"
    }
    public static func string(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
    public static func array(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }
}
