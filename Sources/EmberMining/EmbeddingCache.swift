import EmberCore
import EmberModel
import Foundation

/// `--cache-folder`: normalised embeddings kept across runs, as the reference's `cache_folder` keeps them
/// (SEMANTICS.md §2.5): `query_embeddings_<hex>.npy` and `corpus_embeddings_<hex>.npy`, float32 [n, dim],
/// each loaded if present and written (atomically) only if absent.
///
/// The key is Ember's own, not byte-compatible with the reference's: SHA-256 over the model folder's
/// content (every file that defines the encoding, weights included — not just its name, so a retrained
/// folder at the same path never reuses stale vectors), the prompt, and the ordered texts. A file under
/// the key's name whose shape does not fit is refused, never silently used.
public struct EmbeddingCache {
    public let folder: URL
    /// The model folder's content digest (`modelFingerprint`).
    public let model: String

    public init(folder: URL, modelFolder: URL) throws {
        self.folder = folder
        self.model = try Self.modelFingerprint(modelFolder)
    }

    /// The file for `texts` encoded with `prompt` (`side` is "query" or "corpus").
    public func url(side: String, texts: [String], prompt: String?) -> URL {
        var hasher = SHA256()
        hasher.update("ember-mine-embeddings-v1\u{0}\(model)\u{0}\(side)\u{0}")
        hasher.update(prompt.map { "1" + $0 } ?? "0")
        for text in texts {
            let bytes = Array(text.utf8)
            hasher.update(withUnsafeBytes(of: UInt64(bytes.count).littleEndian, Array.init))
            hasher.update(bytes)
        }
        return folder.appendingPathComponent("\(side)_embeddings_\(SHA256.hex(hasher.finalize())).npy")
    }

    /// The cached embeddings at `url`, or nil when there is no such file; an unreadable file or one
    /// whose shape is not [rows, dim] is an error naming it.
    public static func load(_ url: URL, rows: Int, dim: Int) throws -> FloatBuffer? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EmberError("--cache-folder \(url.path): cannot read") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes.starts(with: EmbeddingFiles.npyMagic), bytes[6] == 1 else {
            throw EmberError("--cache-folder \(url.path): not a NumPy 1.0 file; delete it to re-encode")
        }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        guard 10 + headerLength <= bytes.count, let header = String(bytes: bytes[10..<(10 + headerLength)], encoding: .utf8) else {
            throw EmberError("--cache-folder \(url.path): truncated header; delete it to re-encode")
        }
        guard header.contains(EmbeddingFiles.npyHeaderEntries(rows: rows, dim: dim)), bytes.count == 10 + headerLength + rows * dim * 4 else {
            throw EmberError("--cache-folder \(url.path): does not hold \(rows) × \(dim) float32 embeddings; delete it to re-encode")
        }
        let out = FloatBuffer(count: rows * dim)
        bytes[(10 + headerLength)...].withUnsafeBytes { raw in
            for i in 0..<(rows * dim) {
                out.pointer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
        return out
    }

    /// Writes the embeddings at `url` atomically, unless a file is already there (the reference's rule).
    public static func store(_ values: FloatBuffer, rows: Int, dim: Int, at url: URL) throws {
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        do { try EmbeddingFiles.npy(values.pointer, rows: rows, dim: dim).write(to: url, options: .atomic) } catch {
            throw EmberError("--cache-folder \(url.path): cannot write (\(AtomicFolder.describe(error)))")
        }
    }

    /// SHA-256 over the files that define how the folder encodes: its top-level files and those of its
    /// module subfolders (`1_Pooling/`, …), by relative path and content. Run outputs that do not change
    /// the encoding (checkpoints, logs, the card and report) are left out.
    public static func modelFingerprint(_ folder: URL) throws -> String {
        let fm = FileManager.default
        let skipped: Set<String> = ["README.md", "report.html", "metrics.jsonl", "trainer_state.json"]
        var files: [String] = []
        for name in try fm.contentsOfDirectory(atPath: folder.path) where !name.hasPrefix(".") && !skipped.contains(name) {
            var isDirectory: ObjCBool = false
            fm.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files.append(name); continue }
            guard name.first?.isNumber == true, name.contains("_") else { continue }   // module folders only
            for inner in try fm.contentsOfDirectory(atPath: folder.appendingPathComponent(name).path) where !inner.hasPrefix(".") {
                files.append(name + "/" + inner)
            }
        }
        var hasher = SHA256()
        for path in files.sorted() {
            guard let data = fm.contents(atPath: folder.appendingPathComponent(path).path) else { continue }
            hasher.update(path + "\u{0}")
            hasher.update(withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init))
            data.withUnsafeBytes { hasher.update($0) }
        }
        return SHA256.hex(hasher.finalize())
    }
}
