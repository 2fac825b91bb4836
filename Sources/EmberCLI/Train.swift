import ArgumentParser
import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation

/// `ember train`: fine-tune a model folder on pairs / triplets / n-tuples with an in-batch-negatives
/// loss, optionally cached (GradCache), guided (GIST) and Matryoshka-wrapped.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a sentence-embedding model (MNRL, symmetric MNRL, GIST; GradCache; Matryoshka).")

    @Option(name: .long, help: "Model folder to start from.") var model: String
    @Option(name: .long, help: "Training data: .jsonl, .csv or .tsv (anchor, positive, negatives…).") var data: String
    @Option(name: .long, help: "Output folder (a sentence-transformers model folder).") var output: String
    @Option(name: .long, help: "Columns to use, in order (comma-separated).") var columns: String?

    @Option(name: .long, help: "mnrl | mnrl-symmetric | gist") var loss: String = "mnrl"
    @Option(name: .long, help: "MNRL scale (1/temperature).") var scale: Double = 20
    @Option(name: .long, help: "MNRL similarity: cosine | dot.") var similarity: String = "cosine"
    @Option(name: .long, help: "MNRL directions (comma-separated): query_to_doc,query_to_query,doc_to_query,doc_to_doc.") var directions: String?
    @Option(name: .long, help: "MNRL partition mode: joint | per_direction.") var partitionMode: String?
    @Option(name: .long, help: "MNRL hardness: in_batch_negatives | hard_negatives | all_negatives.") var hardnessMode: String?
    @Option(name: .long, help: "MNRL hardness strength α.") var hardnessStrength: Double = 0
    @Option(name: .long, help: "GIST guide model folder.") var guide: String?
    @Option(name: .long, help: "GIST: keep the guide's embeddings in this file across runs (loaded if present, written at the end).") var guideCache: String?
    @Option(name: .long, help: "GIST: most texts the guide cache keeps in memory (default ≈ 256 MB worth).") var guideCacheTexts: Int?
    @Option(name: .long, help: "GIST temperature.") var temperature: Double = 0.01
    @Option(name: .long, help: "GIST margin strategy: absolute | relative.") var marginStrategy: String = "absolute"
    @Option(name: .long, help: "GIST margin.") var margin: Double = 0
    @Flag(name: .long, help: "GIST: drop the anchor–anchor block.") var noContrastAnchors = false
    @Flag(name: .long, help: "GIST: drop the positive–positive block.") var noContrastPositives = false
    @Option(name: .long, help: "Matryoshka dims, e.g. 384,256,128,64,32.") var matryoshkaDims: String?
    @Option(name: .long, help: "Matryoshka weights (default all 1).") var matryoshkaWeights: String?
    @Option(name: .long, help: "Matryoshka: a random subset of this many dims per step.") var matryoshkaDimsPerStep: Int?

    @Option(name: .long, help: "GradCache mini-batch size (any loss); absent = no caching.") var miniBatchSize: Int?
    @Option(name: .long, help: "GradCache mini-batches by token budget.") var miniBatchTokens: Int?
    @Option(name: .long, help: "Contrastive batch size (in-batch negatives).") var batchSize: Int = 32
    @Option(name: .long, help: "Epochs.") var epochs: Int = 1
    @Option(name: .long, help: "Optimiser steps (wins over --epochs).") var maxSteps: Int?
    @Option(name: .long, help: "adamw | sgd") var optimizer: String = "adamw"
    @Option(name: .long, help: "Peak learning rate.") var lr: Float = 2e-5
    @Option(name: .long, help: "Decoupled weight decay (not on biases / LayerNorm).") var weightDecay: Float = 0.01
    @Option(name: .long, help: "linear | constant | cosine") var scheduler: String = "linear"
    @Option(name: .long, help: "Warmup steps (default 10% of steps).") var warmupSteps: Int?
    @Option(name: .long, help: "Global gradient-norm clipping; 0 disables.") var maxGradNorm: Float = 1
    @Option(name: .long, help: "Gradient accumulation steps.") var gradientAccumulationSteps: Int = 1
    @Option(name: .long, help: "Override hidden and attention dropout.") var dropout: Float?
    @Option(name: .long, help: "Seed for all randomness (sampler, dropout).") var seed: UInt64 = 42
    @Flag(name: .long, help: "Plain random batches instead of the no-duplicates sampler.") var allowDuplicates = false
    @Option(name: .long, help: "Checkpoint every N optimiser steps.") var saveSteps: Int?
    @Option(name: .long, help: "Continue from a checkpoint folder (OUTPUT/checkpoint-N).") var resume: String?
    @Option(name: .long, help: "Metrics log (JSON lines); default OUTPUT/metrics.jsonl.") var log: String?
    @Option(name: .long, help: "Evaluate retrieval during training: queries JSONL (with --eval-corpus, --eval-qrels).") var evalQueries: String?
    @Option(name: .long, help: "Evaluation corpus JSONL.") var evalCorpus: String?
    @Option(name: .long, help: "Evaluation relevance judgements JSONL.") var evalQrels: String?
    @Option(name: .long, help: "Evaluate STS during training: sentence1, sentence2, score JSONL.") var evalSts: String?
    @Option(name: .long, help: "Evaluate every N optimiser steps (default: at the end only).") var evalSteps: Int?
    @Option(name: .long, help: "Dimensions to evaluate (default: the Matryoshka dims, else the model's).") var evalDims: String?

    func run() throws {
        var c = TrainingConfiguration()
        c.batchSize = batchSize; c.epochs = epochs; c.maxSteps = maxSteps
        guard let kind = TrainingConfiguration.OptimizerKind(rawValue: optimizer) else {
            throw EmberError("--optimizer must be adamw or sgd, got '\(optimizer)'")
        }
        c.optimizer = kind; c.learningRate = lr; c.weightDecay = weightDecay; c.scheduler = scheduler
        c.warmupSteps = warmupSteps; c.maxGradNorm = maxGradNorm; c.dropout = dropout; c.seed = seed
        c.saveSteps = saveSteps; c.gradientAccumulationSteps = gradientAccumulationSteps
        c.miniBatchSize = miniBatchSize; c.miniBatchTokens = miniBatchTokens; c.noDuplicates = !allowDuplicates
        try c.validate()

        let outputURL = URL(fileURLWithPath: output)
        try checkOutputFolder(outputURL)
        let resumeURL = resume.map { URL(fileURLWithPath: $0) }
        if let resumeURL, !FileManager.default.fileExists(atPath: resumeURL.appendingPathComponent("trainer_state.json").path) {
            throw EmberError("--resume \(resumeURL.path): not an Ember checkpoint (no trainer_state.json)")
        }
        let sentenceModel = try SentenceModel(folder: resumeURL ?? URL(fileURLWithPath: model))
        sentenceModel.warnings.forEach(warn)
        let trainingData = try TrainingData.load(URL(fileURLWithPath: data), columns: columns.map { $0.split(separator: ",").map(String.init) })
        let lossFunction = try makeLoss(dimension: sentenceModel.embeddingDimension)
        var guideEmbedder: GuideEmbedder? = nil
        if let guide {
            let guideModel = try SentenceModel(folder: URL(fileURLWithPath: guide))
            guideModel.warnings.forEach(warn)
            if let n = guideCacheTexts, n < 1 { throw EmberError("--guide-cache-texts must be at least 1, got \(n)") }
            guideEmbedder = GuideEmbedder(model: guideModel, capacity: guideCacheTexts)
            if let guideCache, FileManager.default.fileExists(atPath: guideCache) {
                if try guideEmbedder!.load(from: URL(fileURLWithPath: guideCache)) == false {
                    warn("--guide-cache \(guideCache): written by a different guide model; ignoring it")
                }
            }
        } else if guideCache != nil {
            throw EmberError("--guide-cache needs --guide")
        } else if lossFunction.needsGuide {
            throw EmberError("--guide is required for --loss \(loss)")
        }
        let trainer = try Trainer(model: sentenceModel, loss: lossFunction, data: trainingData, configuration: c, guide: guideEmbedder)
        if let resumeURL { try trainer.resume(from: resumeURL) }
        let evaluation = try makeEvaluation(dimension: sentenceModel.embeddingDimension)

        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        let logURL = log.map { URL(fileURLWithPath: $0) } ?? outputURL.appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: logURL.path) || resumeURL == nil {
            guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
                throw EmberError("--log \(logURL.path): cannot create the metrics file")
            }
        }
        guard let logHandle = FileHandle(forWritingAtPath: logURL.path) else {
            throw EmberError("--log \(logURL.path): cannot open the metrics file")
        }
        logHandle.seekToEndOfFile()
        defer { try? logHandle.close() }

        func evaluate(step: Int) throws {
            guard let (set, dims) = evaluation else { return }
            let results = set.evaluate(sentenceModel, dims: dims, batchSize: 64)
            let line = try JSONSerialization.data(withJSONObject: ["step": step, "eval": results], options: [.sortedKeys])
            logHandle.write(line + Data("\n".utf8))
            let main = results[String(dims[0])] ?? [:]
            let summary = ["ndcg@10", "spearman"].compactMap { key in main[key].map { "\(key) \(String(format: "%.4f", $0))" } }
            FileHandle.standardError.write(Data("\r\u{1B}[Keval at step \(step) (dim \(dims[0])): \(summary.joined(separator: ", "))\n".utf8))
        }

        let rows = trainer.plan.reduce(0) { $0 + $1.reduce(0) { $0 + $1.rows.count } }
        let progress = ProgressBar(total: trainer.totalSteps, label: "train", unit: "steps")
        FileHandle.standardError.write(Data("training \(lossFunction.name) on \(trainingData.rows.count) rows (\(trainingData.columnNames.joined(separator: ", "))): \(trainer.totalSteps) steps of batch \(batchSize)\(c.miniBatching.isCached ? ", GradCache \(miniBatchTokens.map { "\($0) tokens" } ?? "mini-batch \(miniBatchSize!)")" : ""), \(rows) pairs\n".utf8))
        try trainer.run(onStep: { m in
            logHandle.write(Data((m.jsonLine + "\n").utf8))
            var extra = String(format: "loss %.4f  lr %.2e  %.1f pairs/s", m.loss, m.learningRate, m.pairsPerSecond)
            if !m.components.isEmpty {
                extra += "  [" + m.components.sorted { (Int($0.key) ?? 0) > (Int($1.key) ?? 0) }
                    .map { "\($0.key): \(String(format: "%.3f", $0.value))" }.joined(separator: " ") + "]"
            }
            progress.update(m.step, extra: extra)
            if let every = evalSteps, m.step % every == 0, m.step < m.totalSteps { try evaluate(step: m.step) }
        }, checkpoint: { step in
            try trainer.saveCheckpoint(to: outputURL.appendingPathComponent("checkpoint-\(step)"))
        })
        progress.finish()
        try evaluate(step: trainer.completedSteps)
        try? logHandle.synchronize()
        let logInOutput = logURL.deletingLastPathComponent().standardizedFileURL.path == outputURL.standardizedFileURL.path
        try sentenceModel.save(to: outputURL) { ($0 == logURL.lastPathComponent && logInOutput) || $0.hasPrefix("checkpoint-") }
        Profiler.report()
        if let g = guideEmbedder, let guideCache { try g.save(to: URL(fileURLWithPath: guideCache)) }
        if let g = guideEmbedder {
            FileHandle.standardError.write(Data("guide cache: \(g.cachedTexts) texts, \(g.hits) hits, \(g.misses) misses\n".utf8))
        }
        FileHandle.standardError.write(Data("saved \(outputURL.path)\n".utf8))
    }

    /// The --eval-* set and the dimensions to report, or nil when no evaluation was asked for.
    func makeEvaluation(dimension: Int) throws -> (EvaluationSet, [Int])? {
        guard evalQueries != nil || evalCorpus != nil || evalQrels != nil || evalSts != nil else {
            if evalSteps != nil || evalDims != nil { throw EmberError("--eval-steps and --eval-dims need --eval-sts or --eval-queries/--eval-corpus/--eval-qrels") }
            return nil
        }
        if let n = evalSteps, n < 1 { throw EmberError("--eval-steps must be at least 1, got \(n)") }
        let set = try EvaluationSet(queries: evalQueries, corpus: evalCorpus, qrels: evalQrels, sts: evalSts, flagPrefix: "--eval-")
        let dims = try parseDimensions(evalDims ?? matryoshkaDims, flag: evalDims != nil ? "--eval-dims" : "--matryoshka-dims", modelDimension: dimension)
        return (set, dims.sorted(by: >))
    }

    func makeLoss(dimension: Int) throws -> EmbeddingLoss {
        func parse<T>(_ flag: String, _ value: String, _ make: (String) -> T?) throws -> T {
            guard let parsed = make(value) else { throw EmberError("\(flag): invalid value '\(value)'") }
            return parsed
        }
        var base: EmbeddingLoss
        switch loss {
        case "mnrl", "mnrl-symmetric":
            let sim = try parse("--similarity", similarity) { MultipleNegativesRankingLoss.Similarity(rawValue: $0) }
            var dirs: [MultipleNegativesRankingLoss.Direction] = loss == "mnrl" ? [.queryToDoc] : [.queryToDoc, .docToQuery]
            if let directions {
                dirs = try directions.split(separator: ",").map { d in try parse("--directions", String(d)) { MultipleNegativesRankingLoss.Direction(rawValue: $0) } }
            }
            let partition = try partitionMode.map { p in try parse("--partition-mode", p) { MultipleNegativesRankingLoss.PartitionMode(rawValue: $0) } }
                ?? (loss == "mnrl" ? .joint : .perDirection)
            let hardness = try hardnessMode.map { h in try parse("--hardness-mode", h) { MultipleNegativesRankingLoss.HardnessMode(rawValue: $0) } }
            let mnrl = try MultipleNegativesRankingLoss(scale: scale, similarity: sim, directions: dirs, partitionMode: partition,
                                                        hardnessMode: hardness, hardnessStrength: hardnessStrength)
            mnrl.warnings.forEach(warn)
            base = mnrl
        case "gist":
            let strategy = try parse("--margin-strategy", marginStrategy) { GISTEmbedLoss.MarginStrategy(rawValue: $0) }
            base = try GISTEmbedLoss(temperature: temperature, marginStrategy: strategy, margin: margin,
                                     contrastAnchors: !noContrastAnchors, contrastPositives: !noContrastPositives)
        default:
            throw EmberError("--loss must be mnrl, mnrl-symmetric or gist, got '\(loss)'")
        }
        if let matryoshkaDims {
            let dims = try matryoshkaDims.split(separator: ",").map { d in try parse("--matryoshka-dims", String(d)) { Int($0.trimmingCharacters(in: .whitespaces)) } }
            let weights = try matryoshkaWeights.map { w in try w.split(separator: ",").map { x in try parse("--matryoshka-weights", String(x)) { Double($0.trimmingCharacters(in: .whitespaces)) } } }
            let wrapped = try MatryoshkaLoss(wrapping: base, dims: dims, weights: weights, modelDimension: dimension,
                                             dimsPerStep: matryoshkaDimsPerStep, seed: seed)
            wrapped.warnings.forEach(warn)
            base = wrapped
        } else if matryoshkaWeights != nil || matryoshkaDimsPerStep != nil {
            throw EmberError("--matryoshka-weights and --matryoshka-dims-per-step need --matryoshka-dims")
        }
        return base
    }

    /// The final save replaces OUTPUT as a whole, so OUTPUT must be new, empty, or a previous model /
    /// training output — never an unrelated folder whose files would be swept away.
    func checkOutputFolder(_ url: URL) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw EmberError("--output \(url.path): exists and is not a folder") }
        let names = try fm.contentsOfDirectory(atPath: url.path)
        let known: Set<String> = ["modules.json", "model.safetensors", "config.json", "metrics.jsonl"]
        if !names.isEmpty && !names.contains(where: { known.contains($0) || $0.hasPrefix("checkpoint-") }) {
            throw EmberError("--output \(url.path): exists and is not a model folder; choose a new or empty folder")
        }
    }
}
