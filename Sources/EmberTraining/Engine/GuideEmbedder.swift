import EmberCore
import EmberLosses
import EmberModel

/// A frozen guide model for GISTEmbed: inference only, its own tokenizer applied to the raw texts, and a
/// cache from text to embedding — the guide never changes, so each unique text is embedded once per run
/// (sentence-transformers re-embeds every step). The cache holds at most `capacity` texts (least recently
/// inserted evicted first), ~1.5 KB each for a 384-d guide.
public final class GuideEmbedder {
    public let model: SentenceModel
    public let capacity: Int
    public let batchSize: Int
    private var cache: [String: [Float]] = [:]
    private var order: [String] = []
    private var orderStart = 0
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(model: SentenceModel, capacity: Int = 1_000_000, batchSize: Int = 64) {
        self.model = model
        self.capacity = capacity
        self.batchSize = batchSize
    }

    /// Embeddings of `texts` [N × D_guide] as the guide's pipeline produces them (Normalize if listed).
    public func embed(_ texts: [String]) throws -> Matrix {
        let D = model.embeddingDimension
        let missing = Array(Set(texts.filter { cache[$0] == nil }))
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
}
