import ArgumentParser
import EmberCore
import EmberMining
import EmberModel
import EmberTraining
import Foundation

/// `ember mine`: hard negatives for (anchor, positive) rows with the semantics of sentence-transformers'
/// `mine_hard_negatives` (Sources/EmberMining/SEMANTICS.md; cli.md "ember mine").
struct Mine: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add hard negatives to (anchor, positive) rows, as sentence-transformers' mine_hard_negatives does.")

    @OptionGroup var precisionOption: PrecisionOption

    @Option(name: .long, help: "Model folder that embeds queries and candidates.") var model: String
    @Option(name: .long, help: "Pairs: .jsonl, .csv or .tsv; the first two columns are anchor and positive.") var data: String
    @Option(name: .long, help: "Mined rows: .jsonl.") var output: String
    @Option(name: .long, help: "The anchor and positive columns (comma-separated).") var columns: String?
    @Option(name: .long, help: "Extra candidate texts: .txt, .jsonl, .csv or .tsv.") var corpus: String?
    @Option(name: .long, help: "JSONL field / CSV column of --corpus holding the text (default: text).") var field: String?
    @Option(name: .long, help: "Negatives per row.") var numNegatives: Int = 3
    @Option(name: .long, help: "Skip this many of the best surviving candidates.") var rangeMin: Int = 0
    @Option(name: .long, help: "Consider at most this many surviving candidates (default: derived as the reference does).") var rangeMax: Int?
    @Option(name: .long, help: "Drop candidates scoring above X.") var maxScore: Double?
    @Option(name: .long, help: "Drop candidates scoring below X.") var minScore: Double?
    @Option(name: .long, help: "Keep a candidate only if score + X ≤ the anchor's lowest positive score.") var absoluteMargin: Double?
    @Option(name: .long, help: "Keep a candidate only if score ≤ positive − X·|positive| (lowest positive).") var relativeMargin: Double?
    @Option(name: .long, help: "top | random") var sampling: String = "top"
    @Option(name: .long, help: "triplet | n-tuple | labeled-pair | labeled-list") var outputFormat: String = "triplet"
    @Flag(name: .long, help: "Add the scores as the reference does.") var outputScores = false
    @Flag(name: .long, help: "Keep positives among the candidates (forces n-tuple).") var includePositives = false
    @Option(name: .long, help: "Texts per forward pass.") var batchSize: Int = 32
    @Option(name: .long, help: "Seed of --sampling random: the rows sentence-transformers gives after random.seed(SEED).") var seed: Int = 42
    @Option(name: .long, help: "Keep the embeddings here across runs (keyed by the model's content, the prompt and the texts).") var cacheFolder: String?
    @Option(name: .long, help: "Text prepended to every anchor before encoding (default: the folder's query prompt, as the reference's encode_query).") var queryPrompt: String?
    @Option(name: .long, help: "Text prepended to every candidate before encoding (default: the folder's document/passage/corpus prompt, as encode_document).") var corpusPrompt: String?
    @Option(name: .long, help: "A prompt of the folder's config_sentence_transformers.json for the anchors.") var queryPromptName: String?
    @Option(name: .long, help: "A prompt of the folder's config_sentence_transformers.json for the candidates.") var corpusPromptName: String?
    @Option(name: .long, help: "MiB for one block of search scores (query chunk × corpus).") var maxMemory: Int = 256
    @Flag(name: .long, help: "Replace an existing --output file that Ember did not write.") var overwrite = false

    func validate() throws {
        try checkBatchSize(batchSize)
        guard MiningOptions.Sampling(rawValue: sampling) != nil else {
            throw ValidationError("--sampling must be top or random, got '\(sampling)'")
        }
        guard MiningOptions.OutputFormat(rawValue: outputFormat) != nil else {
            throw ValidationError("--output-format must be triplet, n-tuple, labeled-pair or labeled-list, got '\(outputFormat)'")
        }
        guard seed >= 0 else { throw ValidationError("--seed must be non-negative, got \(seed)") }
        guard maxMemory >= 1 else { throw ValidationError("--max-memory must be at least 1 (MiB), got \(maxMemory)") }
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        guard ext == "jsonl" else { throw ValidationError("--output \(output): unsupported type '.\(ext)' (use .jsonl)") }
    }

    var miningOptions: MiningOptions {
        var o = MiningOptions()
        o.numNegatives = numNegatives; o.rangeMin = rangeMin; o.rangeMax = rangeMax
        o.maxScore = maxScore; o.minScore = minScore
        o.absoluteMargin = absoluteMargin; o.relativeMargin = relativeMargin
        o.sampling = MiningOptions.Sampling(rawValue: sampling)!
        o.outputFormat = MiningOptions.OutputFormat(rawValue: outputFormat)!
        o.outputScores = outputScores; o.includePositives = includePositives
        o.seed = UInt64(seed)
        return o
    }

    func run() throws {
        try precisionOption.apply()
        let outputURL = URL(fileURLWithPath: output)
        var inputs: [RunFolder.Input] = [("--data", data), ("--model", model)]
        if let corpus { inputs.append(("--corpus", corpus)) }
        try OutputFile.check(outputURL, flag: "--output", kind: "a mined-rows file", inputs: inputs, overwrite: overwrite,
                             isEmbers: MinedRowsFile.looksMined)
        try OutputFile.checkWritable(outputURL, flag: "--output")

        // Everything about the input is checked before the model is loaded or anything is encoded.
        let table = try TrainingData.load(URL(fileURLWithPath: data), columns: try selectedColumns(), leading: 2)
        let pairs = table.rows.map { (anchor: $0[0], positive: $0[1]) }
        let extra = try corpus.map { try TextFiles.texts(from: URL(fileURLWithPath: $0), field: field) } ?? []
        let problem = MiningProblem(pairs: pairs, extraCorpus: extra)
        let options = miningOptions
        try options.validate(maxPositives: problem.maxPositives)

        let sentenceModel = try SentenceModel(folder: URL(fileURLWithPath: model))
        sentenceModel.warnings.forEach(warn)
        // The reference's encode_query/encode_document choice of prompt (SEMANTICS.md §2.2); a prompt the
        // folder's pooling cannot honour is refused before anything is encoded.
        let config = sentenceModel.promptConfig
        let queryText = try config.resolve(prompt: queryPrompt, name: queryPromptName, task: .query,
                                           flags: ("--query-prompt", "--query-prompt-name"))
        let corpusText = try config.resolve(prompt: corpusPrompt, name: corpusPromptName, task: .document,
                                            flags: ("--corpus-prompt", "--corpus-prompt-name"))
        for prompt in [queryText, corpusText] { _ = try sentenceModel.promptLength(prompt) }
        similarityNote().map(warn)
        let dim = sentenceModel.embeddingDimension
        let cache = try cacheFolder.map { folder -> EmbeddingCache in
            let url = URL(fileURLWithPath: folder)
            do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw EmberError("--cache-folder \(folder): cannot create (\(AtomicFolder.describe(error)))")
            }
            return try EmbeddingCache(folder: url, modelFolder: URL(fileURLWithPath: model))
        }
        // The corpus first, then the queries, as the reference encodes them.
        // Cache notes are printed with the summary, after success: a failure stays one line.
        var cacheNotes: [String] = []
        let encodeStart = Date()
        let corpusEmbeddings = try embeddings(sentenceModel, problem.corpus, prompt: corpusText, side: "corpus", cache: cache, notes: &cacheNotes)
        let queryEmbeddings = try embeddings(sentenceModel, problem.queries, prompt: queryText, side: "query", cache: cache, notes: &cacheNotes)

        let encodeSeconds = Date().timeIntervalSince(encodeStart), searchStart = Date()
        let bar = ProgressBar(total: problem.queries.count, label: "search", unit: "queries")
        let result = try HardNegativeMiner.mine(
            problem: problem, queryEmbeddings: queryEmbeddings.pointer, corpusEmbeddings: corpusEmbeddings.pointer, dim: dim,
            options: options, anchorColumn: table.columnNames[0], positiveColumn: table.columnNames[1],
            memoryBudget: maxMemory << 20) { done, _ in bar.update(done) }
        bar.finish()
        let searchSeconds = Date().timeIntervalSince(searchStart)

        // Data.write(.atomic) writes a temporary beside the file and renames it: never half an output.
        do { try result.table.jsonLines().write(to: outputURL, options: .atomic) } catch {
            throw EmberError("--output \(outputURL.path): cannot write (\(AtomicFolder.describe(error)))")
        }
        // The reference's text, then Ember's throughput line.
        let texts = problem.corpus.count + problem.queries.count
        let throughput = "Mined \(problem.queries.count) queries against \(problem.corpus.count) candidates: embeddings in "
            + String(format: "%.1f s (%.0f texts/s), search in %.1f s.", encodeSeconds, Double(texts) / max(encodeSeconds, 1e-9), searchSeconds)
        StandardError.write((result.preamble + cacheNotes + result.report + [throughput]).map { $0 + "\n" }.joined())
    }

    /// `--columns`: exactly the anchor and positive columns; nil uses the file's first two.
    func selectedColumns() throws -> [String]? {
        guard let columns else { return nil }
        let names = columns.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard names.count == 2, !names.contains("") else {
            throw EmberError("--columns: mining takes two columns, anchor and positive (e.g. --columns question,answer), got '\(columns)'")
        }
        return names
    }

    /// The reference scores with the folder's similarity function; on unit vectors "dot" equals cosine,
    /// but "euclidean" and "manhattan" give other scores (so other margins): the user is told, not
    /// silently diverged from.
    func similarityNote() -> String? {
        let url = URL(fileURLWithPath: model).appendingPathComponent("config_sentence_transformers.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let name = config["similarity_fn_name"] as? String, !["cosine", "dot"].contains(name) else { return nil }
        return "\(url.path) sets similarity_fn_name '\(name)'; Ember mines by cosine similarity"
    }

    /// Embeddings of one side: from the cache when it has them, else encoded (and then cached). A
    /// non-finite vector, encoded or cached, is an error here, before the other side is encoded and
    /// before anything is cached.
    func embeddings(_ model: SentenceModel, _ texts: [String], prompt: String?, side: String, cache: EmbeddingCache?,
                    notes: inout [String]) throws -> FloatBuffer {
        let dim = model.embeddingDimension
        func checked(_ values: FloatBuffer) throws -> FloatBuffer {
            guard let bad = values.firstNonFinite() else { return values }
            let what = side == "corpus" ? "candidate" : "anchor"
            throw EmberError("\(data): the \(what) '\(texts[bad / dim].prefix(60))' has a non-finite embedding (the model's activations overflow); nothing was written")
        }
        guard let cache else { return try checked(try encode(model, texts, prompt: prompt, label: "encode \(side)")) }
        let url = cache.url(side: side, texts: texts, prompt: prompt)
        if let cached = try EmbeddingCache.load(url, rows: texts.count, dim: dim) {
            notes.append("[Cache] Loaded \(side) embeddings from \(url.path) (shape=(\(texts.count), \(dim)))")
            return try checked(cached)
        }
        let values = try checked(try encode(model, texts, prompt: prompt, label: "encode \(side)"))
        try EmbeddingCache.store(values, rows: texts.count, dim: dim, at: url)
        notes.append("[Cache] Saved \(side) embeddings to \(url.path)")
        return values
    }

    /// Prompts are prepended; with include_prompt false their tokens are left out of pooling (model layer).
    func encode(_ model: SentenceModel, _ texts: [String], prompt: String?, label: String) throws -> FloatBuffer {
        let bar = ProgressBar(total: texts.count, label: label, unit: "texts")
        let values = try model.encode(texts, prompt: prompt, batchSize: batchSize, normalize: true) { bar.update($0) }
        bar.finish()
        return values
    }
}

/// Recognising a file `ember mine` wrote, so a rerun may replace it without `--overwrite`. JSON lines
/// carry no room for a marker, so this goes by shape, like Ember's other outputs: the first object has
/// exactly an anchor and a positive column plus mined ones. A hand-made triplet file of that exact shape
/// cannot be told apart; anything with another column (an id, a source) is refused.
enum MinedRowsFile {
    static func isMinedColumn(_ key: String) -> Bool {
        if ["negative", "label", "labels", "score", "scores"].contains(key) { return true }
        guard key.hasPrefix("negative_"), let n = Int(key.dropFirst("negative_".count)) else { return false }
        return n >= 1
    }

    /// An empty file, or JSON lines whose first object is (anchor, positive, mined columns…).
    static func looksMined(_ url: URL) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 1 << 16)
        guard let line = head.split(separator: 0x0A).first else { return head.isEmpty }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { return false }
        let mined = object.keys.filter(isMinedColumn)
        return !mined.isEmpty && object.count - mined.count == 2
    }
}
