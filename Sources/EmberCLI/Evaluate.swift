import ArgumentParser
import EmberCore
import EmberModel
import EmberTraining
import Foundation

/// `ember evaluate`: retrieval (queries, corpus, qrels) or STS (sentence pairs with gold scores) metrics of a
/// model folder, per embedding dimension (truncated and re-normalised, for Matryoshka models).
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrieval (ndcg@10, mrr@10, map@100, accuracy/precision/recall@k) or STS (Pearson, Spearman) per dimension.")

    @OptionGroup var precisionOption: PrecisionOption

    @Option(name: .long, help: "Model folder.") var model: String
    @Option(name: .long, help: "Queries: JSONL with id and text.") var queries: String?
    @Option(name: .long, help: "Corpus: JSONL with id and text.") var corpus: String?
    @Option(name: .long, help: "Relevance judgements: JSONL with query_id, corpus_id, score (> 0 is relevant).") var qrels: String?
    @Option(name: .long, help: "STS pairs: JSONL with sentence1, sentence2, score.") var sts: String?
    @Option(name: .long, help: "Dimensions to evaluate, e.g. 384,256,128 (default: the model's).") var truncateDims: String?
    @Option(name: .long, help: "Write the metrics JSON here (default: stdout).") var output: String?
    @Option(name: .long, help: "Texts per forward pass.") var batchSize: Int = 64
    @Flag(name: .long, help: "Replace an existing --output file that Ember did not write.") var overwrite = false
    @Option(name: .long, help: "Retrieval: text prepended to every query (the reference's query_prompt).") var queryPrompt: String?
    @Option(name: .long, help: "Retrieval: text prepended to every corpus document (the reference's corpus_prompt).") var corpusPrompt: String?
    @Option(name: .long, help: "STS: text prepended to both sentences of every pair.") var prompt: String?

    func validate() throws { try checkBatchSize(batchSize) }

    /// With no flag for a side, the folder's prompts apply as the reference's evaluators pick them: the
    /// IR evaluator encodes through `encode_query`/`encode_document`, the STS one through `encode`.
    func prompts(for set: EvaluationSet, _ model: SentenceModel) throws -> EvaluationPrompts {
        try set.prompts(query: queryPrompt, corpus: corpusPrompt, sts: prompt, defaults: model.promptConfig, flagPrefix: "--")
    }

    func run() throws {
        try precisionOption.apply()
        let sentenceModel = try SentenceModel(folder: URL(fileURLWithPath: model))
        sentenceModel.warnings.forEach(warn)
        let dims = try parseDimensions(truncateDims, flag: "--truncate-dims", modelDimension: sentenceModel.embeddingDimension)
        let set = try EvaluationSet(queries: queries, corpus: corpus, qrels: qrels, sts: sts)
        let prompts = try prompts(for: set, sentenceModel)
        for p in [prompts.query, prompts.corpus, prompts.sts] { _ = try sentenceModel.promptLength(p) }
        if let output {
            try OutputFile.check(URL(fileURLWithPath: output), flag: "--output", kind: "a metrics file",
                                 inputs: [("--model", model)] + set.files, overwrite: overwrite) { url in
                // Ember's metrics JSON: an object keyed by dimensions.
                guard let data = FileManager.default.contents(atPath: url.path),
                      let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
                return !object.isEmpty && object.keys.allSatisfy { Int($0) != nil }
            }
            try OutputFile.checkWritable(URL(fileURLWithPath: output), flag: "--output")
        }
        var bar: ProgressBar? = nil
        let results = try set.evaluate(sentenceModel, dims: dims, batchSize: batchSize, prompts: prompts) { done, total in
            if bar == nil { bar = ProgressBar(total: total, label: "evaluate", unit: "texts") }
            bar?.update(done)
        }
        bar?.finish()
        let data = JSONOutput.data(results, pretty: true)
        if let output {
            do { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw EmberError("--output \(output): cannot write (\(AtomicFolder.describe(error)))")
            }
        } else {
            try StandardOutput.write(data + Data("\n".utf8))
        }
    }
}

/// "384,128" → [384, 128], each within 1…modelDimension; nil → [modelDimension].
func parseDimensions(_ text: String?, flag: String, modelDimension D: Int) throws -> [Int] {
    guard let text else { return [D] }
    var seen = Set<Int>()
    return try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
        guard let d = Int(part.trimmingCharacters(in: .whitespaces)), d > 0, d <= D else {
            throw EmberError("\(flag): '\(part)' is not a dimension between 1 and \(D)")
        }
        guard seen.insert(d).inserted else { throw EmberError("\(flag): dimension \(d) is listed twice") }
        return d
    }
}

/// Prompts of an evaluation: query and corpus for retrieval, one for both sides of STS.
struct EvaluationPrompts {
    var query: String? = nil, corpus: String? = nil, sts: String? = nil
}

/// The data of a retrieval or STS evaluation, read and validated once (for `ember evaluate` and for
/// `ember train --eval-*`, which re-evaluates the same set during training).
struct EvaluationSet {
    enum Kind {
        case retrieval(queries: [(id: String, text: String)], corpus: [(id: String, text: String)], relevant: [String: Set<String>])
        case sts([(String, String, Double)])
    }
    let kind: Kind
    /// The files read, with the flags that named them (an output must not replace them).
    let files: [(flag: String, path: String)]
    /// What the set's file is called in messages about undefined metrics.
    private let source: String

    /// `flagPrefix` is "--" for evaluate and "--eval-" for train, so errors name the flag the user typed.
    init(queries: String?, corpus: String?, qrels: String?, sts: String?, flagPrefix: String = "--") throws {
        let retrievalFiles = [queries, corpus, qrels].compactMap { $0 }.count
        guard (retrievalFiles == 3 && sts == nil) || (retrievalFiles == 0 && sts != nil) else {
            throw EmberError("give either \(flagPrefix)queries, \(flagPrefix)corpus and \(flagPrefix)qrels, or \(flagPrefix)sts")
        }
        files = [("queries", queries), ("corpus", corpus), ("qrels", qrels), ("sts", sts)].compactMap { flag, path in
            path.map { (flagPrefix + flag, $0) }
        }
        source = sts ?? qrels ?? ""
        if let sts {
            let url = URL(fileURLWithPath: sts)
            let pairs = try TextFiles.jsonObjects(from: url).map { line, o -> (String, String, Double) in
                guard let a = o["sentence1"] as? String, let b = o["sentence2"] as? String else {
                    throw EmberError("\(url.path):\(line): needs string fields sentence1 and sentence2")
                }
                guard let score = JSONField.number(o["score"]), score.isFinite else { throw EmberError("\(url.path):\(line): needs a numeric score") }
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
            var score = 1.0
            if let value = o["score"] {
                guard let number = JSONField.number(value), number.isFinite else {
                    throw EmberError("\(qrelsURL.path):\(line): score must be a number, got \(value is String ? "\"\(value)\"" : "\(value)")")
                }
                score = number
            }
            if score > 0 { relevant[queryID, default: []].insert(corpusID) }
        }
        let corpusIDs = Set(c.map(\.id)), queryIDs = Set(q.map(\.id))
        let unknown = relevant.filter { !queryIDs.contains($0.key) }.count
            + relevant.values.reduce(0) { $0 + $1.filter { !corpusIDs.contains($0) }.count }
        if unknown > 0 { warn("\(qrelsURL.path): \(unknown) judgements name ids missing from the queries or corpus") }
        let judged = q.filter { !(relevant[$0.id] ?? []).isEmpty }
        guard !judged.isEmpty else { throw EmberError("\(qrelsURL.path): no query has a relevant document") }
        let unanswerable = judged.filter { !relevant[$0.id]!.contains(where: corpusIDs.contains) }.map(\.id)
        if !unanswerable.isEmpty {
            warn("\(qrelsURL.path): \(unanswerable.count) quer\(unanswerable.count == 1 ? "y has" : "ies have") no relevant document in the corpus (\(unanswerable.prefix(5).joined(separator: ", "))\(unanswerable.count > 5 ? ", …" : "")); \(unanswerable.count == judged.count ? "every metric is undefined (null)" : "left out of the metrics as undefined")")
        }
        kind = .retrieval(queries: q, corpus: c, relevant: relevant)
    }

    /// Metrics per dimension; an undefined one (NaN: constant STS scores, no answerable query) is
    /// reported in a warning naming the file, and written as null.
    /// `progress` (texts encoded, texts to encode) drives a progress bar.
    func evaluate(_ model: SentenceModel, dims: [Int], batchSize: Int, prompts: EvaluationPrompts = EvaluationPrompts(),
                  progress: @escaping (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> [String: [String: Double]] {
        let results: [String: [String: Double]]
        switch kind {
        case let .retrieval(queries, corpus, relevant):
            results = try Evaluator.retrieval(model: model, queries: queries, corpus: corpus, relevant: relevant, dims: dims,
                                              batchSize: batchSize, queryPrompt: prompts.query, corpusPrompt: prompts.corpus,
                                              progress: progress)
        case let .sts(pairs):
            results = try Evaluator.sts(model: model, pairs: pairs, dims: dims, batchSize: batchSize, prompt: prompts.sts,
                                        progress: progress)
        }
        for dim in dims.map(String.init) {
            let undefined = (results[dim] ?? [:]).filter { !$0.value.isFinite }.keys.sorted()
            if case .sts = kind, !undefined.isEmpty {
                warn("\(source): \(undefined.joined(separator: " and ")) undefined at dimension \(dim) (the gold scores or the similarities are constant); written as null")
            }
        }
        return results
    }

    /// The prompts of this set's kind; a prompt flag for the other kind is refused rather than ignored.
    /// `flagPrefix` as in `init` ("--sts takes --prompt", "--eval-sts takes --eval-prompt").
    /// A side without a flag takes the folder's prompt for it from `defaults` (nil: none).
    func prompts(query: String?, corpus: String?, sts: String?, defaults: PromptConfig?, flagPrefix: String) throws -> EvaluationPrompts {
        let p = flagPrefix
        func resolve(_ given: String?, _ task: PromptConfig.Task?) throws -> String? {
            guard let defaults, given == nil else { return given }
            return try defaults.resolve(prompt: nil, name: nil, task: task)
        }
        switch kind {
        case .retrieval:
            if sts != nil { throw EmberError("\(p)prompt is for \(p)sts; retrieval takes \(p)query-prompt and \(p)corpus-prompt") }
            return EvaluationPrompts(query: try resolve(query, .query), corpus: try resolve(corpus, .document))
        case .sts:
            if query != nil || corpus != nil {
                throw EmberError("\(p)query-prompt/\(p)corpus-prompt are for retrieval; \(p)sts takes \(p)prompt")
            }
            return EvaluationPrompts(sts: try resolve(sts, nil))
        }
    }

    /// `{"id": …, "text": …}` lines; ids may be strings or numbers.
    static func records(_ path: String, _ flag: String) throws -> [(id: String, text: String)] {
        let url = URL(fileURLWithPath: path)
        var seen = Set<String>()
        let rows = try TextFiles.jsonObjects(from: url).map { line, o -> (id: String, text: String) in
            guard let id = Self.identifier(o["id"]), let text = o["text"] as? String else {
                throw EmberError("\(url.path):\(line): needs an id and a string text")
            }
            guard seen.insert(id).inserted else { throw EmberError("\(url.path):\(line): id '\(id)' appears twice") }
            return (id, text)
        }
        guard !rows.isEmpty else { throw EmberError("\(flag) \(url.path): no records") }
        return rows
    }

    static func identifier(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber, !JSONField.isBoolean(n) { return n.stringValue }
        return nil
    }
}
