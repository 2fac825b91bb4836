import EmberCore
import Foundation

/// Retrieval and STS evaluation of a model per embedding dimension (Matryoshka truncations): embeddings
/// are truncated to each dimension, re-normalised, and compared by cosine.
public enum Evaluator {
    /// Retrieval: for every query with at least one relevant document in the corpus, the corpus ranked by
    /// cosine. Relevant ids missing from the corpus cannot be retrieved but count in the denominators
    /// (recall, ndcg, map), as the reference counts them. A query none of whose relevant documents is in
    /// the corpus has undefined metrics and is left out (the caller warns); with no query left every
    /// metric is NaN (written as null). Returns metrics keyed by dimension (as a string), then metric name.
    /// `queryPrompt`/`corpusPrompt` are the reference InformationRetrievalEvaluator's `query_prompt` and
    /// `corpus_prompt`: prepended before encoding (pooled per the folder's include_prompt).
    public static func retrieval(model: SentenceModel, queries: [(id: String, text: String)], corpus: [(id: String, text: String)],
                                 relevant: [String: Set<String>], dims: [Int], batchSize: Int = 64,
                                 metrics: RetrievalMetrics = RetrievalMetrics(), queryPrompt: String? = nil, corpusPrompt: String? = nil,
                                 progress: @escaping (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> [String: [String: Double]] {
        let corpusIndex = Dictionary(corpus.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let scored = queries.filter { (relevant[$0.id] ?? []).contains { corpusIndex[$0] != nil } }
        let D = model.embeddingDimension
        let texts = scored.count + corpus.count
        let queryEmbeddings = try model.encode(scored.map(\.text), prompt: queryPrompt, batchSize: batchSize) { progress($0, texts) }
        let corpusEmbeddings = try model.encode(corpus.map(\.text), prompt: corpusPrompt, batchSize: batchSize) { progress(scored.count + $0, texts) }
        // Ids missing from the corpus become distinct negative indices: never ranked, still counted.
        let relevantSets = scored.map { query in
            Set(relevant[query.id]!.sorted().enumerated().map { corpusIndex[$0.element] ?? -1 - $0.offset })
        }
        var result: [String: [String: Double]] = [:]
        for dim in dims {
            let q = Normalize.truncated(queryEmbeddings, rows: scored.count, fullDim: D, dim: dim)
            let c = Normalize.truncated(corpusEmbeddings, rows: corpus.count, fullDim: D, dim: dim)
            var ranked: [[Int]] = []
            let chunk = 256
            let scores = FloatBuffer(uninitializedCount: min(chunk, max(scored.count, 1)) * corpus.count)
            for start in stride(from: 0, to: scored.count, by: chunk) {
                let rows = min(chunk, scored.count - start)
                BLAS.gemm(transB: true, m: rows, n: corpus.count, k: dim, a: q.pointer + start * dim, lda: dim,
                          b: c.pointer, ldb: dim, beta: 0, c: scores.pointer, ldc: corpus.count)
                for r in 0..<rows {
                    let row = scores.pointer + r * corpus.count
                    // Highest score first; ties by corpus order, for determinism.
                    let order = (0..<corpus.count).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
                    ranked.append(Array(order.prefix(metrics.depth)))
                }
            }
            result[String(dim)] = metrics.compute(ranked: ranked, relevant: relevantSets)
        }
        return result
    }

    /// STS: Pearson and Spearman correlation between cosine similarity and the gold scores. `prompt`
    /// (an Ember addition: the reference's EmbeddingSimilarityEvaluator takes none) goes before both sentences.
    public static func sts(model: SentenceModel, pairs: [(String, String, Double)], dims: [Int], batchSize: Int = 64,
                           prompt: String? = nil,
                           progress: @escaping (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> [String: [String: Double]] {
        let D = model.embeddingDimension
        let a = try model.encode(pairs.map(\.0), prompt: prompt, batchSize: batchSize) { progress($0, 2 * pairs.count) }
        let b = try model.encode(pairs.map(\.1), prompt: prompt, batchSize: batchSize) { progress(pairs.count + $0, 2 * pairs.count) }
        var result: [String: [String: Double]] = [:]
        for dim in dims {
            let ta = Normalize.truncated(a, rows: pairs.count, fullDim: D, dim: dim), tb = Normalize.truncated(b, rows: pairs.count, fullDim: D, dim: dim)
            let cosines = (0..<pairs.count).map { Double(Elementwise.dot(ta.pointer + $0 * dim, tb.pointer + $0 * dim, count: dim)) }
            let gold = pairs.map(\.2)
            result[String(dim)] = ["pearson": Correlation.pearson(cosines, gold), "spearman": Correlation.spearman(cosines, gold)]
        }
        return result
    }
}
