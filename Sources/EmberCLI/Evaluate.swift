import ArgumentParser
import EmberCore
import EmberModel
import Foundation

/// `ember evaluate`: retrieval (queries, corpus, qrels) or STS (sentence pairs with gold scores) metrics of a
/// model folder, per embedding dimension (truncated and re-normalised, for Matryoshka models).
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrieval (ndcg@10, mrr@10, map@100, accuracy/precision/recall@k) or STS (Pearson, Spearman) per dimension.")

    @Option(name: .long, help: "Model folder.") var model: String
    @Option(name: .long, help: "Queries: JSONL with id and text.") var queries: String?
    @Option(name: .long, help: "Corpus: JSONL with id and text.") var corpus: String?
    @Option(name: .long, help: "Relevance judgements: JSONL with query_id, corpus_id, score (> 0 is relevant).") var qrels: String?
    @Option(name: .long, help: "STS pairs: JSONL with sentence1, sentence2, score.") var sts: String?
    @Option(name: .long, help: "Dimensions to evaluate, e.g. 384,256,128 (default: the model's).") var truncateDims: String?
    @Option(name: .long, help: "Write the metrics JSON here (default: stdout).") var output: String?
    @Option(name: .long, help: "Texts per forward pass.") var batchSize: Int = 64

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    }

    func run() throws {
        let sentenceModel = try SentenceModel(folder: URL(fileURLWithPath: model))
        sentenceModel.warnings.forEach(warn)
        let dims = try parseDimensions(truncateDims, flag: "--truncate-dims", modelDimension: sentenceModel.embeddingDimension)
        let set = try EvaluationSet(queries: queries, corpus: corpus, qrels: qrels, sts: sts)
        let data = try JSONSerialization.data(withJSONObject: set.evaluate(sentenceModel, dims: dims, batchSize: batchSize),
                                              options: [.prettyPrinted, .sortedKeys])
        if let output {
            do { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw EmberError("--output \(output): cannot write (\(error.localizedDescription))")
            }
        } else {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

/// "384,128" → [384, 128], each within 1…modelDimension; nil → [modelDimension].
func parseDimensions(_ text: String?, flag: String, modelDimension D: Int) throws -> [Int] {
    guard let text else { return [D] }
    return try text.split(separator: ",").map { part in
        guard let d = Int(part.trimmingCharacters(in: .whitespaces)), d > 0, d <= D else {
            throw EmberError("\(flag): '\(part)' is not a dimension between 1 and \(D)")
        }
        return d
    }
}

/// The data of a retrieval or STS evaluation, read and validated once (for `ember evaluate` and for
/// `ember train --eval-*`, which re-evaluates the same set during training).
struct EvaluationSet {
    enum Kind {
        case retrieval(queries: [(id: String, text: String)], corpus: [(id: String, text: String)], relevant: [String: Set<String>])
        case sts([(String, String, Double)])
    }
    let kind: Kind

    /// `flagPrefix` is "--" for evaluate and "--eval-" for train, so errors name the flag the user typed.
    init(queries: String?, corpus: String?, qrels: String?, sts: String?, flagPrefix: String = "--") throws {
        let retrievalFiles = [queries, corpus, qrels].compactMap { $0 }.count
        guard (retrievalFiles == 3 && sts == nil) || (retrievalFiles == 0 && sts != nil) else {
            throw EmberError("give either \(flagPrefix)queries, \(flagPrefix)corpus and \(flagPrefix)qrels, or \(flagPrefix)sts")
        }
        if let sts {
            let url = URL(fileURLWithPath: sts)
            let pairs = try TextFiles.jsonObjects(from: url).map { line, o -> (String, String, Double) in
                guard let a = o["sentence1"] as? String, let b = o["sentence2"] as? String else {
                    throw EmberError("\(url.path):\(line): needs string fields sentence1 and sentence2")
                }
                guard let score = (o["score"] as? NSNumber)?.doubleValue else { throw EmberError("\(url.path):\(line): needs a numeric score") }
                return (a, b, score)
            }
            guard pairs.count >= 2 else { throw EmberError("\(flagPrefix)sts \(url.path): needs at least 2 pairs") }
            kind = .sts(pairs)
            return
        }
        let (queries, corpus, qrels) = (queries!, corpus!, qrels!)
        let q = try Self.records(queries, "\(flagPrefix)queries"), c = try Self.records(corpus, "\(flagPrefix)corpus")
        let qrelsURL = URL(fileURLWithPath: qrels)
        var relevant: [String: Set<String>] = [:]
        for (line, o) in try TextFiles.jsonObjects(from: qrelsURL) {
            guard let queryID = Self.identifier(o["query_id"]), let corpusID = Self.identifier(o["corpus_id"]) else {
                throw EmberError("\(qrelsURL.path):\(line): needs query_id and corpus_id")
            }
            let score = (o["score"] as? NSNumber)?.doubleValue ?? 1
            if score > 0 { relevant[queryID, default: []].insert(corpusID) }
        }
        let corpusIDs = Set(c.map(\.id)), queryIDs = Set(q.map(\.id))
        let unknown = relevant.filter { !queryIDs.contains($0.key) }.count
            + relevant.values.reduce(0) { $0 + $1.filter { !corpusIDs.contains($0) }.count }
        if unknown > 0 { warn("\(qrelsURL.path): \(unknown) judgements name ids missing from the queries or corpus") }
        guard q.contains(where: { !(relevant[$0.id] ?? []).isEmpty }) else {
            throw EmberError("\(qrelsURL.path): no query has a relevant document")
        }
        kind = .retrieval(queries: q, corpus: c, relevant: relevant)
    }

    func evaluate(_ model: SentenceModel, dims: [Int], batchSize: Int) -> [String: [String: Double]] {
        switch kind {
        case let .retrieval(queries, corpus, relevant):
            return Evaluator.retrieval(model: model, queries: queries, corpus: corpus, relevant: relevant, dims: dims, batchSize: batchSize)
        case let .sts(pairs):
            return Evaluator.sts(model: model, pairs: pairs, dims: dims, batchSize: batchSize)
        }
    }

    /// `{"id": …, "text": …}` lines; ids may be strings or numbers.
    static func records(_ path: String, _ flag: String) throws -> [(id: String, text: String)] {
        let url = URL(fileURLWithPath: path)
        let rows = try TextFiles.jsonObjects(from: url).map { line, o -> (id: String, text: String) in
            guard let id = Self.identifier(o["id"]), let text = o["text"] as? String else {
                throw EmberError("\(url.path):\(line): needs an id and a string text")
            }
            return (id, text)
        }
        guard !rows.isEmpty else { throw EmberError("\(flag) \(url.path): no records") }
        return rows
    }

    static func identifier(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }
}
