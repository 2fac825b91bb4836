import EmberCore
import Foundation

/// A named tensor widened to Float32: `shape` in row-major order, `data` holding product(shape) floats.
public struct Tensor {
    public let shape: [Int]
    public let data: FloatBuffer
    public init(shape: [Int], data: FloatBuffer) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) floats")
        self.shape = shape
        self.data = data
    }
    public var count: Int { data.count }
}

/// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
/// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}},
/// then the tensor bytes. Ember reads F32, F16 and BF16 (widened to Float32) and F64 (narrowed), writes
/// F32, and validates but skips integer and boolean tensors (e.g. BERT's `embeddings.position_ids`
/// buffer, which Ember derives itself).
///
/// Everything the header claims is checked before a byte of tensor data is touched: the header length
/// fits the file, the JSON is an object of well-formed entries, each byte range matches dtype × shape,
/// lies inside the file, and the ranges tile the data region without overlap or holes (as the reference
/// implementation requires). A malformed file is an `EmberError` naming the file — never a crash.
public enum SafeTensors {
    /// Largest header accepted (the reference library uses 100 MB).
    static let maximumHeaderBytes = 100_000_000

    public enum DType: String, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", u64 = "U64", i32 = "I32", u32 = "U32", i16 = "I16", u16 = "U16"
        case i8 = "I8", u8 = "U8", bool = "BOOL", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
        var size: Int {
            switch self {
            case .f64, .i64, .u64: return 8
            case .f32, .i32, .u32: return 4
            case .f16, .bf16, .i16, .u16: return 2
            case .i8, .u8, .bool, .f8e5m2, .f8e4m3: return 1
            }
        }
        /// Whether Ember loads it as a Float32 tensor (the rest are validated and skipped).
        var isLoaded: Bool { [.f64, .f32, .f16, .bf16].contains(self) }
    }

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let range: Range<Int>   // relative to the start of the data region
    }

    public static func read(_ url: URL) throws -> [String: Tensor] {
        let bytes: Data
        do { bytes = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw EmberError("\(url.path): cannot read safetensors file (\(error.localizedDescription))")
        }
        return try read(bytes, name: url.path)
    }

    /// Parses an in-memory safetensors image; `name` is used in error messages.
    public static func read(_ bytes: Data, name: String) throws -> [String: Tensor] {
        let (entries, dataStart) = try parseHeader(bytes, name: name)
        var tensors: [String: Tensor] = [:]
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for entry in entries where entry.dtype.isLoaded {
                let count = entry.shape.reduce(1, *)
                let buffer = FloatBuffer(count: count)
                let base = raw.baseAddress! + dataStart + entry.range.lowerBound
                switch entry.dtype {
                case .f32:
                    for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
                case .f16:
                    for i in 0..<count { buffer[i] = halfToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
                case .bf16:
                    for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16) }
                case .f64:
                    for i in 0..<count { buffer[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
                default:
                    break
                }
                tensors[entry.name] = Tensor(shape: entry.shape, data: buffer)
            }
        }
        return tensors
    }

    /// Validates the header and returns its entries sorted by offset, plus where the data region starts.
    public static func parseHeader(_ bytes: Data, name: String) throws -> ([Entry], Int) {
        func fail(_ what: String) -> EmberError { EmberError("\(name): invalid safetensors file: \(what)") }
        guard bytes.count >= 8 else { throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        let declared = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(maximumHeaderBytes) else { throw fail("header length \(declared) exceeds the \(maximumHeaderBytes)-byte limit") }
        let headerLength = Int(declared)
        guard 8 + headerLength <= bytes.count else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerData = bytes.subdata(in: bytes.startIndex + 8 ..< bytes.startIndex + 8 + headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: headerData), let object = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var entries: [Entry] = []
        for (key, value) in object where key != "__metadata__" {
            guard let info = value as? [String: Any] else { throw fail("entry '\(key)' is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("entry '\(key)' has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("entry '\(key)' has unknown dtype \(dtypeName)")
            }
            guard let shapeValues = info["shape"] as? [Any], let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("entry '\(key)' has a malformed shape")
            }
            guard let offsetValues = info["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw fail("entry '\(key)' has malformed data_offsets")
            }
            guard offsets[1] <= dataSize else {
                throw fail("entry '\(key)' ends at byte \(offsets[1]) of a \(dataSize)-byte data region (truncated file?)")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            // An overflowing byte count must not wrap around to the stated range (shape [2^62] of F32 is
            // 2^64 bytes, 0 modulo 2^64): that would allocate and read 2^62 floats from an empty range.
            let (byteCount, byteOverflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, !byteOverflow, byteCount == offsets[1] - offsets[0] else {
                throw fail("entry '\(key)' has \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName)")
            }
            entries.append(Entry(name: key, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1]))
        }
        entries.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var end = 0
        for entry in entries {
            if entry.range.lowerBound < end { throw fail("entry '\(entry.name)' overlaps the previous tensor") }
            if entry.range.lowerBound > end { throw fail("a gap of unindexed bytes precedes entry '\(entry.name)'") }
            end = entry.range.upperBound
        }
        guard end == dataSize else { throw fail("\(dataSize - end) trailing bytes after the last tensor") }
        return (entries, dataStart)
    }

    /// Writes F32 tensors (sorted by name) atomically: a temporary file in the same folder, then rename.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        let data = try serialize(tensors, metadata: metadata)
        do { try data.write(to: url, options: .atomic) } catch {
            throw EmberError("\(url.path): cannot write safetensors file (\(error.localizedDescription))")
        }
    }

    public static func serialize(_ tensors: [String: Tensor], metadata: [String: String] = ["format": "pt"]) throws -> Data {
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data region starts 8-byte aligned, as the reference writer does.
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for name in names {
            let t = tensors[name]!
            out.append(UnsafeBufferPointer(start: t.data.pointer, count: t.count))  // little-endian host
        }
        return out
    }

    static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber, let exact = Int(exactly: number.doubleValue) else { return nil }
            result.append(exact)
        }
        return result
    }

    /// IEEE 754 half → single, including subnormals, infinities and NaN.
    @inline(__always) static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1f)
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            let value = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -value : value
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
