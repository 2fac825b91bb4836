import EmberCore
import Foundation

/// Writing embeddings: `.npy` (float32, C order, shape [N, D]) or `.jsonl` (one JSON array per line).
/// Written atomically (temporary file, then rename): a failed run never leaves half an output.
public enum EmbeddingFiles {
    public static func write(_ values: UnsafePointer<Float>, rows: Int, dim: Int, to url: URL) throws {
        let data: Data
        switch url.pathExtension.lowercased() {
        case "npy": data = npy(values, rows: rows, dim: dim)
        case "jsonl": data = jsonLines(values, rows: rows, dim: dim)
        default: throw EmberError("--output \(url.path): unsupported type '.\(url.pathExtension)' (use .npy or .jsonl)")
        }
        do { try data.write(to: url, options: .atomic) } catch {
            throw EmberError("--output \(url.path): cannot write (\(AtomicFolder.describe(error)))")
        }
    }

    /// Whether `url` holds what `write` writes (so Ember may replace it): a `.npy` file, or JSON lines
    /// of number arrays; an empty file too.
    public static func looksLikeEmbeddings(_ url: URL) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 1 << 16)
        if head.isEmpty { return true }
        switch url.pathExtension.lowercased() {
        case "npy": return head.starts(with: npyMagic)
        case "jsonl":
            guard let line = head.split(separator: 0x0A).first, head.count < 1 << 16 || head.contains(0x0A) else { return false }
            return (try? JSONSerialization.jsonObject(with: Data(line))) is [NSNumber]
        default: return false
        }
    }

    /// The bytes every NumPy file starts with.
    public static let npyMagic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// The entries of the header dictionary Ember writes for float32 [rows, dim] (readers of Ember's own
    /// files match them).
    public static func npyHeaderEntries(rows: Int, dim: Int) -> String {
        "'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(dim)), "
    }

    /// NumPy format 1.0: magic, version, little-endian header length, a Python-literal header padded so
    /// the data starts on a 64-byte boundary, then the raw little-endian floats.
    public static func npy(_ values: UnsafePointer<Float>, rows: Int, dim: Int) -> Data {
        var header = "{" + npyHeaderEntries(rows: rows, dim: dim) + "}"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data(npyMagic + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(UnsafeBufferPointer(start: values, count: rows * dim))
        return data
    }

    public static func jsonLines(_ values: UnsafePointer<Float>, rows: Int, dim: Int) -> Data {
        var out = ""
        out.reserveCapacity(rows * dim * 12)
        for r in 0..<rows {
            out += "["
            for j in 0..<dim {
                if j > 0 { out += "," }
                out += "\(values[r * dim + j])"
            }
            out += "]\n"
        }
        return Data(out.utf8)
    }
}
