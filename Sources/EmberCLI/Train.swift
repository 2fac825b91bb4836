import ArgumentParser
import EmberCore
import EmberLosses
import EmberModel
import EmberMPI
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
    @Option(name: .long, help: "Prompts: a JSON object column → prompt, or one prompt for every column (saved in the model's prompts).") var prompts: String?

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
    @Option(name: .long, help: "GradCache: memory for mini-batch activations kept from the first pass instead of re-running their forward (e.g. 512M, 2G, 0 = replay all; default 1/16 of RAM, at most 448M).") var activationMemory: String?
    @OptionGroup var precisionOption: PrecisionOption
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
    @Option(name: .long, help: "Evaluation: text prepended to every query.") var evalQueryPrompt: String?
    @Option(name: .long, help: "Evaluation: text prepended to every corpus document.") var evalCorpusPrompt: String?
    @Option(name: .long, help: "STS evaluation: text prepended to both sentences.") var evalPrompt: String?
    @Option(name: .long, help: "Dimensions to evaluate (default: the Matryoshka dims, else the model's).") var evalDims: String?
    @Flag(name: .customLong("eval-on-start"), inversion: .prefixedNo, help: "With --eval-*: evaluate the starting model before the first step (the 'before' of the report).") var evalOnStart = true
    @Flag(name: .long, help: "Keep the checkpoint with the best --metric-for-best-model as the final model (needs --eval-steps; checkpoints every --save-steps, default --eval-steps).") var loadBestModelAtEnd = false
    @Option(name: .long, help: "Metric that picks the best checkpoint: METRIC or DIM:METRIC, e.g. ndcg@10 or 128:ndcg@10 (default ndcg@10 at the largest evaluated dim; spearman for STS).") var metricForBestModel: String?
    @Option(name: .long, help: "Keep at most N checkpoints: older ones are removed (never the best one).") var saveTotalLimit: Int?

    @Flag(name: .long, help: "Replace OUTPUT if it holds an earlier Ember run (never a folder Ember did not write).") var overwrite = false
    @Flag(name: .long, help: "Skip (and count) optimiser steps whose loss or gradient is not finite instead of stopping.") var skipNonfinite = false

    func run() throws {
        keepFreedMemoryForReuse()
        let world: Communicator
        do { world = try Communicator.world() } catch {   // a world of one unless mpirun started this process
            // Loading MPI fails per host (a machine without Open MPI): every rank that fails says so.
            if let rank = Communicator.launchRank, rank != 0, let (message, code) = EmberMain.describe(error) {
                StandardError.write("error: rank \(rank): \(message)\n")
                Foundation.exit(code)
            }
            throw error
        }
        guard Communicator.active != nil else { return try train(job: nil) }
        let job = RankedJob(world: world)
        job.run { try train(job: job) }
    }

    /// The command on this process: alone (`job` nil) or as one rank of an mpirun job, where every rank
    /// reads and trains and rank 0 alone writes and prints (RankedJob).
    func train(job: RankedJob?) throws {
        let world = job?.world ?? .single, isRoot = world.rank == 0
        var c = TrainingConfiguration()
        c.batchSize = batchSize; c.epochs = epochs; c.maxSteps = maxSteps
        guard let kind = TrainingConfiguration.OptimizerKind(rawValue: optimizer) else {
            throw EmberError("--optimizer must be adamw or sgd, got '\(optimizer)'")
        }
        c.optimizer = kind; c.learningRate = lr; c.weightDecay = weightDecay; c.scheduler = scheduler
        c.warmupSteps = warmupSteps; c.maxGradNorm = maxGradNorm; c.dropout = dropout; c.seed = seed
        // Checkpoints are the candidates for the best model: by default one at every evaluation.
        c.saveSteps = saveSteps ?? (loadBestModelAtEnd ? evalSteps : nil); c.gradientAccumulationSteps = gradientAccumulationSteps
        c.miniBatchSize = miniBatchSize; c.miniBatchTokens = miniBatchTokens; c.noDuplicates = !allowDuplicates
        c.skipNonFinite = skipNonfinite
        c.activationMemory = try activationMemory.map { try ByteSize.parse($0, flag: "--activation-memory") }
        try c.validate()
        c.precision = try precisionOption.apply() == .bf16 ? .bf16 : nil
        if let n = evalSteps, n < 1 { throw EmberError("--eval-steps must be at least 1, got \(n)") }
        if let n = saveTotalLimit, n < 1 { throw EmberError("--save-total-limit must be at least 1, got \(n)") }
        if let n = guideCacheTexts, n < 1 { throw EmberError("--guide-cache-texts must be at least 1, got \(n)") }

        // Everything is read and checked before OUTPUT is touched: a bad input changes no file.
        let outputURL = URL(fileURLWithPath: output)
        let resumeURL = resume.map { URL(fileURLWithPath: $0) }
        if let resumeURL, !FileManager.default.fileExists(atPath: resumeURL.appendingPathComponent("trainer_state.json").path) {
            throw EmberError("--resume \(resumeURL.path): not an Ember checkpoint (no trainer_state.json)")
        }
        let sentenceModel = try SentenceModel(folder: resumeURL ?? URL(fileURLWithPath: model))
        sentenceModel.warnings.forEach(warn)
        var trainingData = try TrainingData.load(URL(fileURLWithPath: data), columns: columns.map { $0.split(separator: ",").map(String.init) })
        let columnPrompts = try prompts.map { try TrainPrompts.parse($0, columns: trainingData.columnNames, data: data) } ?? [:]
        let lossFunction = try makeLoss(dimension: sentenceModel.embeddingDimension)
        let evaluation = try makeEvaluation(dimension: sentenceModel.embeddingDimension, saveSteps: c.saveSteps)
        for p in [evaluation?.prompts.query, evaluation?.prompts.corpus, evaluation?.prompts.sts] { _ = try sentenceModel.promptLength(p ?? nil) }
        var inputs: [RunFolder.Input] = [("--model", model), ("--data", data)] + (evaluation?.set.files ?? [])
        if let guide { inputs.append(("--guide", guide)) }
        var guideEmbedder: GuideEmbedder? = nil
        if let guide {
            let guideModel = try SentenceModel(folder: URL(fileURLWithPath: guide))
            guideModel.warnings.forEach(warn)
            let embedder = GuideEmbedder(model: guideModel, capacity: guideCacheTexts)
            if let guideCache {
                let url = URL(fileURLWithPath: guideCache)
                // A file there must be a guide cache (load checks it); the file is rewritten at the end (by rank 0).
                if isRoot { try OutputFile.check(url, flag: "--guide-cache", kind: "a guide cache", inputs: inputs, overwrite: false) { _ in true } }
                if FileManager.default.fileExists(atPath: guideCache), try embedder.load(from: url) == false {
                    warn("--guide-cache \(guideCache): written by a different guide model or --precision; ignoring it (it is rewritten at the end)")
                }
                if isRoot { try OutputFile.checkWritable(url, flag: "--guide-cache") }
            }
            guideEmbedder = embedder
        } else if guideCache != nil {
            throw EmberError("--guide-cache needs --guide")
        } else if lossFunction.needsGuide {
            throw EmberError("--guide is required for --loss \(loss)")
        }
        let prompted = try TrainPrompts.apply(columnPrompts, to: trainingData, model: sentenceModel, guide: guideEmbedder?.model)
        trainingData = prompted.0
        TrainPrompts.record(columnPrompts, in: sentenceModel)
        let trainer = try Trainer(model: sentenceModel, loss: lossFunction, data: trainingData, configuration: c, guide: guideEmbedder,
                                  communicator: world)
        trainer.engine.promptLengths = prompted.promptLengths
        if let resumeURL { try trainer.resume(from: resumeURL) }
        let progress = ProgressBar(total: trainer.totalSteps, label: "train", unit: "steps", done: trainer.completedSteps)
        let logURL = log.map { URL(fileURLWithPath: $0) } ?? outputURL.appendingPathComponent("metrics.jsonl")
        let logInOutput = RunFolder.canonical(logURL.deletingLastPathComponent()) == RunFolder.canonical(outputURL)
        if isRoot && log != nil && !logInOutput && resumeURL == nil {
            try OutputFile.check(logURL, flag: "--log", kind: "a metrics log", inputs: inputs, overwrite: overwrite) {
                OutputFile.firstLineIsJSONObject($0, withKey: "step")
            }
        }

        // OUTPUT: absent, empty, or an Ember run (see RunFolder). It is created and marked at the run's
        // first write, so a run that fails before its first step leaves nothing behind.
        let identity: [String: Any] = ["command": CommandLine.arguments.joined(separator: " "), "model": model, "data": data]
        let decision = isRoot ? try RunFolder.check(output: outputURL, inputs: inputs, overwrite: overwrite, resume: resumeURL, identity: identity) : nil
        var openLog: FileHandle? = nil
        defer { try? openLog?.close() }
        func runLog() throws -> FileHandle {
            if let openLog { return openLog }
            for note in try decision.map(RunFolder.apply) ?? [] { StandardError.write("note: \(note)\n") }
            if resumeURL == nil || !FileManager.default.fileExists(atPath: logURL.path) {
                guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
                    throw EmberError("--log \(logURL.path): cannot create the metrics file")
                }
            }
            guard let handle = FileHandle(forWritingAtPath: logURL.path) else {
                throw EmberError("--log \(logURL.path): cannot open the metrics file")
            }
            handle.seekToEndOfFile()
            openLog = handle
            return handle
        }
        func logLine(_ line: String) throws {
            do { try runLog().write(contentsOf: Data((line + "\n").utf8)) } catch let error as EmberError { throw error } catch {
                throw EmberError("--log \(logURL.path): cannot write (\(AtomicFolder.describe(error)))")
            }
        }

        @discardableResult
        func evaluate(step: Int, label: String? = nil) throws -> [String: [String: Double]]? {
            guard let evaluation, isRoot else { return nil }   // rank 0 evaluates, the others train on
            let results = try evaluation.evaluate(sentenceModel)
            try logLine(JSONOutput.string(["step": step, "eval": results]))
            progress.print(evaluation.summary(step: step, results, label: label))
            // A checkpoint is saved right after this evaluation: it becomes the best if its metric improved.
            if let metric = evaluation.bestMetric, let every = c.saveSteps, step % every == 0, step > 0, step < trainer.totalSteps,
               let value = metric.value(in: results), trainer.best.map({ $0.isImproved(by: value) }) ?? true {
                trainer.best = BestCheckpoint(step: step, metric: metric, value: value)
            }
            return results
        }

        let documents = runDocuments(model: sentenceModel, data: trainingData, prompts: columnPrompts, loss: lossFunction, configuration: c, trainer: trainer,
                                     evaluationFiles: evaluation?.set.files.map(\.path) ?? [], logURL: logURL)
        let budget = trainer.engine.activationBudget
        let keeping = budget == 0 ? "every mini-batch replayed" : "activations kept up to \(budget >> 20) MiB"
        let caching = c.miniBatching.isCached ? ", GradCache \(miniBatchTokens.map { "\($0) tokens" } ?? "mini-batch \(miniBatchSize ?? 0)") (\(keeping))" : ""
        try job?.setupSucceeded(fingerprint: trainer.runFingerprint())   // every rank is ready (or all end here with the failing rank's error)
        let ranks = job.map { " " + Self.describeRanks(batchSize: batchSize, world: $0.world) } ?? ""
        if isRoot {
            StandardError.write("training \(lossFunction.name) on \(trainingData.rows.count) rows (\(trainingData.columnNames.joined(separator: ", "))): \(trainer.totalSteps) steps of batch \(batchSize)\(ranks)\(caching)\(c.precision == .bf16 ? ", bf16 products" : "")\n")
        }
        if evalOnStart, trainer.completedSteps == 0 { try evaluate(step: 0, label: "before training") }
        try trainer.run(onStep: { m in
            guard isRoot else { return }
            try logLine(m.jsonLine)
            if m.skipped { progress.print("warning: step \(m.step): non-finite loss or gradient; step skipped (\(m.skippedSteps) so far)") }
            progress.update(m.step, fields: Self.progressFields(m))
            if let every = evalSteps, m.step % every == 0, m.step < m.totalSteps { try evaluate(step: m.step) }
        }, checkpoint: { step in
            guard isRoot else { return }
            _ = try runLog()
            let folder = outputURL.appendingPathComponent(Checkpoints.name(step: step))
            try trainer.saveCheckpoint(to: folder, extraFiles: documents.extraFiles(for: folder, step: step))
            if let limit = saveTotalLimit {
                try Checkpoints.prune(in: outputURL, limit: limit, keeping: Set([trainer.best?.step].compactMap { $0 }))
            }
        })
        guard isRoot else { return }   // the weights are rank 0's too (Trainer.checkRanksAgree)
        progress.finish()
        try? runLog().synchronize()
        // Save first: a failing final evaluation must not cost the trained model. Everything already in
        // OUTPUT that the model does not replace (marker, metrics, checkpoints) is kept.
        releaseFreedMemory()
        try sentenceModel.save(to: outputURL, preserving: { _ in true },
                               extraFiles: documents.extraFiles(for: outputURL, step: trainer.completedSteps))
        Profiler.report()
        if let g = guideEmbedder, let guideCache { try g.save(to: URL(fileURLWithPath: guideCache)) }
        if let g = guideEmbedder {
            // Under mpirun the counts are rank 0's lookups (its shards); the cache also holds the others' rows.
            StandardError.write("guide cache\(job == nil ? "" : " on rank 0"): \(g.cachedTexts) texts, \(g.hits) hits, \(g.misses) misses\n")
        }
        StandardError.write("saved \(outputURL.path)\(trainer.skippedSteps > 0 ? " (\(trainer.skippedSteps) non-finite steps skipped)" : "")\n")
        let final = try evaluate(step: trainer.completedSteps)
        var keptCheckpoint = false
        if let metric = evaluation?.bestMetric {
            keptCheckpoint = try keepBest(metric: metric, final: final, trainer: trainer, output: outputURL, log: logLine,
                                          documents: { documents.extraFiles(for: outputURL, step: trainer.completedSteps) })
        }
        // The card again, now with the final evaluation (a kept checkpoint was saved with its documents already).
        if evaluation != nil && !keptCheckpoint { try documents.rewrite(in: outputURL, step: trainer.completedSteps) }
    }

    /// "on 3 ranks (2–3 rows each)": how the global batch is shared (mpirun).
    static func describeRanks(batchSize: Int, world: Communicator) -> String {
        let shares = (0..<world.size).map { world.shard(batchSize, rank: $0).count }
        let low = shares.min() ?? 0, high = shares.max() ?? 0
        return "on \(world.size) rank\(world.size == 1 ? "" : "s") (\(low == high ? "\(low)" : "\(low)–\(high)") rows each)"
    }

    /// What the progress line shows after the counts, most important first: the loss, the Matryoshka
    /// losses per dimension (compact: `384:0.412 256:0.431 …`), pairs/s, the learning rate.
    static func progressFields(_ m: StepMetrics) -> [String] {
        guard !m.skipped else { return ["step skipped (non-finite)"] }
        var fields = [String(format: "loss %.4f", m.loss)]
        if !m.components.isEmpty {
            fields.append(m.components.sorted { (Int($0.key) ?? 0) > (Int($1.key) ?? 0) }
                .map { "\($0.key):\(String(format: "%.3f", $0.value))" }.joined(separator: " "))
        }
        fields.append(String(format: "%.1f pairs/s", m.pairsPerSecond))
        fields.append(String(format: "lr %.2e", m.learningRate))
        return fields
    }

    /// `--load-best-model-at-end`: the final weights are a candidate too (evaluated last, so a tie keeps the
    /// earlier checkpoint); when a checkpoint is better, its model replaces the final one in OUTPUT.
    /// The kept model is saved with its card and report (`documents`), rendered once the choice is logged.
    /// Returns whether a checkpoint replaced the final model (and OUTPUT's documents with it).
    func keepBest(metric: BestModelMetric, final: [String: [String: Double]]?, trainer: Trainer, output: URL,
                  log: (String) throws -> Void, documents: () -> (URL) throws -> Void) throws -> Bool {
        let finalValue = final.flatMap { metric.value(in: $0) }
        var chosen = BestCheckpoint(step: trainer.completedSteps, metric: metric, value: finalValue ?? -.infinity)
        if let best = trainer.best, finalValue.map({ !best.isImproved(by: $0) }) ?? true { chosen = best }
        guard chosen.value.isFinite else {
            warn("--load-best-model-at-end: \(metric.description) was never defined; the final model is kept")
            return false
        }
        try log(JSONOutput.string(["step": trainer.completedSteps,
                                   "best": ["step": chosen.step, "metric": metric.name, "dim": metric.dimension, "value": chosen.value]]))
        if chosen.step != trainer.completedSteps {
            let bestModel = try SentenceModel(folder: output.appendingPathComponent(Checkpoints.name(step: chosen.step)))
            try bestModel.save(to: output, preserving: { _ in true }, extraFiles: documents())
        }
        let whence = chosen.step == trainer.completedSteps ? "the final model" : "checkpoint-\(chosen.step), now the model in \(output.path)"
        StandardError.write("best model: \(whence) (\(metric.description) \(String(format: "%.4f", chosen.value)))\n")
        return chosen.step != trainer.completedSteps
    }

    /// The --eval-* set and the dimensions to report, or nil when no evaluation was asked for.
    func makeEvaluation(dimension: Int, saveSteps: Int?) throws -> TrainEvaluation? {
        guard evalQueries != nil || evalCorpus != nil || evalQrels != nil || evalSts != nil else {
            if evalSteps != nil || evalDims != nil || loadBestModelAtEnd || metricForBestModel != nil
                || evalQueryPrompt != nil || evalCorpusPrompt != nil || evalPrompt != nil {
                throw EmberError("--eval-steps, --eval-dims, --eval-*-prompt, --load-best-model-at-end and --metric-for-best-model need --eval-sts or --eval-queries/--eval-corpus/--eval-qrels")
            }
            return nil
        }
        let set = try EvaluationSet(queries: evalQueries, corpus: evalCorpus, qrels: evalQrels, sts: evalSts, flagPrefix: "--eval-")
        let dims = try parseDimensions(evalDims ?? matryoshkaDims, flag: evalDims != nil ? "--eval-dims" : "--matryoshka-dims", modelDimension: dimension)
        var evaluation = try TrainEvaluation(set: set, dims: dims.sorted(by: >), every: evalSteps, loadBest: loadBestModelAtEnd,
                                             metric: metricForBestModel, saveSteps: saveSteps)
        evaluation.prompts = try set.prompts(query: evalQueryPrompt, corpus: evalCorpusPrompt, sts: evalPrompt, defaults: nil, flagPrefix: "--eval-")
        return evaluation
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
            let dims = try parseDimensions(matryoshkaDims, flag: "--matryoshka-dims", modelDimension: dimension)
            let weights = try matryoshkaWeights.map { w in
                try w.split(separator: ",", omittingEmptySubsequences: false).map { x in
                    try parse("--matryoshka-weights", String(x)) { Double($0.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } }
                }
            }
            let wrapped = try MatryoshkaLoss(wrapping: base, dims: dims, weights: weights, modelDimension: dimension,
                                             dimsPerStep: matryoshkaDimsPerStep, seed: seed)
            wrapped.warnings.forEach(warn)
            base = wrapped
        } else if matryoshkaWeights != nil || matryoshkaDimsPerStep != nil {
            throw EmberError("--matryoshka-weights and --matryoshka-dims-per-step need --matryoshka-dims")
        }
        return base
    }
}
