import EmberCore
import EmberLosses
import EmberModel
import Foundation

/// A frozen guide model for GISTEmbed: inference only, its own tokenizer applied to the raw texts, and a
/// cache from text to embedding — the guide never changes, so each unique text is embedded once per run
/// (sentence-transformers re-embeds every step). The cache holds at most `capacity` texts (oldest
/// entries evicted first); the default keeps it near 256 MB (~170,000 texts for a 384-d guide).
public final class GuideEmbedder {
    public let model: SentenceModel
    public let capacity: Int
    public let batchSize: Int
    private var cache: [String: [Float]] = [:]
    private var order: [String] = []
    private var orderStart = 0
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(model: SentenceModel, capacity: Int? = nil, batchSize: Int = 64) {
        self.model = model
        self.capacity = capacity ?? max(1_000, (256 << 20) / (4 * model.embeddingDimension + 96))
        self.batchSize = batchSize
    }

    /// Embeddings of `texts` [N × D_guide] as the guide's pipeline produces them (Normalize if listed).
    public func embed(_ texts: [String]) throws -> Matrix {
        let D = model.embeddingDimension
        var seen = Set<String>()
        let missing = texts.filter { cache[$0] == nil && seen.insert($0).inserted }   // first-appearance order
        hits += texts.count - missing.count
        misses += missing.count
        if !missing.isEmpty {
            let embeddings = Profiler.measure("guide embed") { model.encode(missing, batchSize: batchSize) }
            for (i, text) in missing.enumerated() {
                insert(text, Array(UnsafeBufferPointer(start: embeddings.pointer + i * D, count: D)))
            }
        }
        var matrix = Matrix(rows: texts.count, cols: D)
        for (i, text) in texts.enumerated() {
            let row = cache[text] ?? model.encode([text]).array   // only if evicted within this call
            for j in 0..<D { matrix.values[i * D + j] = Double(row[j]) }
        }
        return matrix
    }

    /// Caches rows of `embeddings` [texts.count × D] computed elsewhere (another rank's shard) for the
    /// texts not cached yet.
    public func remember(_ texts: [String], _ embeddings: Matrix) {
        let D = model.embeddingDimension
        for (i, text) in texts.enumerated() where cache[text] == nil {
            insert(text, embeddings.values[(i * D)..<((i + 1) * D)].map { Float($0) })
        }
    }

    private func insert(_ text: String, _ embedding: [Float]) {
        cache[text] = embedding
        order.append(text)
        while cache.count > capacity, orderStart < order.count {
            cache[order[orderStart]] = nil
            orderStart += 1
        }
        if orderStart > 4096 && orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    public var cachedTexts: Int { cache.count }

    // MARK: - Cache file

    /// A text embedded by the guide when a cache file is written; on load, the stored probe embedding
    /// must equal the guide's current one, so a cache from another guide model is never used.
    static let probe = "Ember guide-cache probe: if this embedding differs, the cache belongs to another guide."
    static let magic = Array("EMBERGC1".utf8)

    /// Writes every cached embedding to `url` atomically. Format: "EMBERGC1", UInt32 count, UInt32 dim,
    /// then per entry a UInt32 byte length and the UTF-8 text, then count × dim little-endian Float32
    /// (entry 0 is the probe).
    public func save(to url: URL) throws {
        let D = model.embeddingDimension
        let probeEmbedding = model.encode([Self.probe]).array
        var entries: [(String, [Float])] = [(Self.probe, probeEmbedding)]
        entries += cache.filter { $0.key != Self.probe }.map { ($0.key, $0.value) }
        var data = Data(Self.magic)
        func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        append(UInt32(entries.count)); append(UInt32(D))
        for (text, _) in entries { let bytes = Array(text.utf8); append(UInt32(bytes.count)); data.append(contentsOf: bytes) }
        for (_, embedding) in entries { embedding.withUnsafeBufferPointer { data.append($0) } }
        do { try data.write(to: url, options: .atomic) } catch {
            throw EmberError("--guide-cache \(url.path): cannot write (\(AtomicFolder.describe(error)))")
        }
    }

    /// Loads a cache file written by `save`. Returns false (and loads nothing) when the file belongs to a
    /// different guide model; a damaged file is an error naming it.
    @discardableResult
    public func load(from url: URL) throws -> Bool {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EmberError("--guide-cache \(url.path): cannot read")
        }
        let bytes = [UInt8](data)
        var offset = 0
        func fail(_ what: String) -> EmberError { EmberError("--guide-cache \(url.path): not a valid guide cache (\(what))") }
        func read32() throws -> Int {
            guard offset + 4 <= bytes.count else { throw fail("truncated") }
            defer { offset += 4 }
            return Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        }
        guard bytes.count >= 16, Array(bytes[0..<8]) == Self.magic else { throw fail("bad header") }
        offset = 8
        let count = try read32(), D = try read32()
        guard count >= 1 else { throw fail("no probe entry") }
        var texts: [String] = []
        texts.reserveCapacity(count)
        for _ in 0..<count {
            let length = try read32()
            guard offset + length <= bytes.count, let text = String(bytes: bytes[offset..<(offset + length)], encoding: .utf8) else {
                throw fail("truncated or invalid text")
            }
            texts.append(text)
            offset += length
        }
        guard offset + count * D * 4 == bytes.count else { throw fail("size mismatch") }
        let floats: [Float] = bytes[offset...].withUnsafeBytes { raw in
            (0..<(count * D)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        let current = model.encode([Self.probe]).array
        guard D == model.embeddingDimension, texts[0] == Self.probe, Array(floats[0..<D]) == current else { return false }
        for i in 1..<count where cache[texts[i]] == nil { insert(texts[i], Array(floats[(i * D)..<((i + 1) * D)])) }
        return true
    }
}
