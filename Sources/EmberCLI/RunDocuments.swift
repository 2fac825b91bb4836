import EmberCore
import EmberLosses
import EmberModel
import EmberReport
import EmberTraining
import Foundation

/// The documents `ember train` leaves in every folder it saves (checkpoints and the final model): the
/// `README.md` model card and the `report.html` training report, from what the run knows up front plus
/// the metrics log as it stands.
///
/// A card is rendered before its folder's atomic save begins and written inside it, so a folder appears
/// with its card or not at all; a card that cannot be rendered (an unreadable log) costs a warning, never
/// the checkpoint or the model.
struct RunDocuments {
    /// Everything but the log and the step, which change from save to save.
    let template: ModelCard.Info
    let logURL: URL

    static let cardName = "README.md"

    init(model: SentenceModel, modelFolder: String, data: TrainingData, dataPath: String, prompts: [String: String],
         loss: EmbeddingLoss, lossContext: LossReferenceContext, configuration: TrainingConfiguration, trainer: Trainer,
         evaluationFiles: [String], logURL: URL) {
        self.logURL = logURL
        var reference: LossReference? = loss.reference(in: lossContext)
        var losses: [ModelCard.Loss] = []
        while let current = reference {
            losses.append(ModelCard.Loss(className: current.className, parameters: current.parameters.map { ($0.name, $0.value) }))
            reference = current.inner
        }
        let pooling = model.pooling.modes.map { mode in
            mode.rawValue.replacingOccurrences(of: "pooling_mode_", with: "")
                .replacingOccurrences(of: "_tokens", with: "").replacingOccurrences(of: "_token", with: "")
        }.joined(separator: " + ")
        var info = ModelCard.Info(
            baseModel: Self.baseModelName(of: URL(fileURLWithPath: modelFolder)), modelPath: "",
            maxSequenceLength: model.maxSequenceLength, outputDimension: model.embeddingDimension, pooling: pooling,
            normalized: model.normalize, dataName: URL(fileURLWithPath: dataPath).lastPathComponent, dataRows: data.rows.count,
            columns: data.columnNames, losses: losses, log: RunLog(), step: 0, totalSteps: trainer.totalSteps)
        info.matryoshkaDims = (loss as? MatryoshkaLoss)?.dims ?? []
        info.samples = Array(data.rows.prefix(3))
        // Token lengths of the first 1000 rows, tokenized as training tokenizes them (the reference's sample).
        let sample = data.rows.prefix(1000)
        info.statisticsRows = sample.count
        info.tokenStatistics = data.columnNames.indices.compactMap { column in
            let lengths = sample.compactMap { column < $0.count ? model.tokenize($0[column]).count : nil }
            guard let low = lengths.min(), let high = lengths.max() else { return nil }
            return ModelCard.TokenStatistics(column: data.columnNames[column], min: low,
                                             mean: Double(lengths.reduce(0, +)) / Double(lengths.count), max: high)
        }
        info.prompts = data.columnNames.compactMap { column in prompts[column].map { (column, $0) } }
        info.hyperparameters = Self.hyperparameters(configuration, warmupSteps: trainer.warmupSteps)
        // The reference's trainer argument `prompts`, as its card prints it (a Python dict or None).
        info.hyperparameters.append(("prompts", info.prompts.isEmpty ? "None"
            : "{" + info.prompts.map { "\(JSONLiteral.string($0.column)): \(JSONLiteral.string($0.prompt))" }.joined(separator: ", ") + "}"))
        info.evaluationData = evaluationFiles.isEmpty ? nil
            : evaluationFiles.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")
        info.frameworkVersions = [("Ember", emberVersion), ("Swift", Self.swiftVersion), ("OpenBLAS kernels", BLAS.coreName),
                                  ("Folder layout", "sentence-transformers v2–v5.3 (loads in every version through 6.x)")]
        template = info
    }

    /// The training hyperparameters under the names sentence-transformers' trainer arguments use.
    static func hyperparameters(_ c: TrainingConfiguration, warmupSteps: Int) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = [
            ("per_device_train_batch_size", "\(c.batchSize)"),
            ("gradient_accumulation_steps", "\(c.gradientAccumulationSteps)"),
            ("learning_rate", "\(c.learningRate)"),
            ("weight_decay", "\(c.weightDecay)"),
            ("num_train_epochs", "\(c.epochs)"),
            ("max_steps", "\(c.maxSteps ?? -1)"),
            ("lr_scheduler_type", c.scheduler),
            ("warmup_steps", "\(warmupSteps)"),
            ("max_grad_norm", "\(c.maxGradNorm)"),
            ("optim", c.optimizer == .adamw ? "adamw_torch" : "sgd"),
            ("seed", "\(c.seed)"),
            ("batch_sampler", c.noDuplicates ? "no_duplicates" : "batch_sampler"),
            ("dataloader_drop_last", c.dropLast ? "True" : "False"),
        ]
        // Ember's own option, no trainer argument of the reference: it overrides config.json's dropouts.
        if let dropout = c.dropout { out.append(("dropout (hidden and attention)", "\(dropout)")) }
        // The reference's mixed-precision flag: there torch autocast, here the linear layers' bf16 products.
        if c.precision == .bf16 { out.append(("bf16", "True")) }
        return out
    }

    static let reportName = "report.html"

    /// The documents of `folder` after `step` steps: the card and the log (for the HTML report), or nil
    /// (with a warning) if the log cannot be read. A final folder for which `--load-best-model-at-end` kept
    /// an earlier checkpoint (the log's `best` line) describes that checkpoint's weights.
    func documents(for folder: URL, step: Int) -> (card: String, log: RunLog, title: String)? {
        do {
            var info = template
            info.log = try RunLog(contentsOf: logURL)
            info.step = step
            if let best = info.log.best, best.step < step, step == template.totalSteps {
                info.step = best.step
                info.logThrough = step
            }
            info.modelPath = RunFolder.canonical(folder)
            let title = "Training report: " + folder.standardizedFileURL.pathComponents.suffix(step < template.totalSteps ? 2 : 1).joined(separator: "/")
            return (ModelCard.render(info), info.log, title)
        } catch {
            warn("\(folder.path): saved without a model card and report (\((error as? EmberError)?.message ?? AtomicFolder.describe(error)))")
            return nil
        }
    }

    /// What the HTML report lists first.
    func facts(step: Int) -> [(String, String)] {
        [("Base model", template.baseModel), ("Data", "\(template.dataName) (\(template.dataRows) rows)"),
         ("Loss", template.losses.map(\.className).joined(separator: " over ")), ("Steps", "\(step) of \(template.totalSteps)"),
         ("Ember", emberVersion)]
    }

    /// Renders the documents of `folder` now and returns the writer to run inside its atomic save:
    /// README.md (the model card) and report.html (the training report of the log so far).
    func extraFiles(for folder: URL, step: Int) -> (URL) throws -> Void {
        let documents = documents(for: folder, step: step)
        return { directory in
            guard let documents else { return }
            try Data(documents.card.utf8).write(to: directory.appendingPathComponent(Self.cardName))
            try TrainingReport.write(log: documents.log, title: documents.title, facts: facts(step: step),
                                     to: directory.appendingPathComponent(Self.reportName))
        }
    }

    /// After the final evaluation (which runs after the final save on purpose): the card and the report
    /// again, now with the results, each replacing the saved one atomically.
    func rewrite(in folder: URL, step: Int) throws {
        guard let documents = documents(for: folder, step: step) else { return }
        let url = folder.appendingPathComponent(Self.cardName)
        do { try Data(documents.card.utf8).write(to: url, options: .atomic) } catch {
            throw EmberError("\(url.path): cannot write the model card (\(AtomicFolder.describe(error)))")
        }
        try TrainingReport.write(log: documents.log, title: documents.title, facts: facts(step: step),
                                 to: folder.appendingPathComponent(Self.reportName))
    }

    /// How a card names the model trained from: the Hugging Face id its own model card loads in its usage
    /// example, or the one a Hugging Face cache path spells (`models--owner--name/snapshots/…`), else its
    /// folder. Not config.json's `_name_or_path`: that names the checkpoint the weights were once
    /// initialised from (nreimers/MiniLM-L6-H384-uncased for all-MiniLM-L6-v2), not this model.
    static func baseModelName(of folder: URL) -> String {
        let folder = URL(fileURLWithPath: RunFolder.canonical(folder))
        if let data = FileManager.default.contents(atPath: folder.appendingPathComponent("README.md").path),
           let regex = try? NSRegularExpression(pattern: #"SentenceTransformer\(\s*["']([^"'\s]+)["']"#) {
            let text = String(decoding: data.prefix(1 << 20), as: UTF8.self)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let range = Range(match.range(at: 1), in: text), ModelCard.isHubID(String(text[range])) {
                    return String(text[range])
                }
            }
        }
        let parts = folder.pathComponents
        if let cache = parts.lastIndex(where: { $0.hasPrefix("models--") }), cache + 1 < parts.count, parts[cache + 1] == "snapshots" {
            let id = parts[cache].dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
            if ModelCard.isHubID(id) { return id }
        }
        return folder.path
    }

    static var swiftVersion: String {
        #if compiler(>=6.3)
        return "6.3 or later"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }
}

extension Train {
    /// The documents of this run's saved folders, from its flags and what `run` loaded.
    func runDocuments(model sentenceModel: SentenceModel, data trainingData: TrainingData, prompts: [String: String], loss lossFunction: EmbeddingLoss,
                      configuration: TrainingConfiguration, trainer: Trainer, evaluationFiles: [String], logURL: URL) -> RunDocuments {
        let context = LossReferenceContext(miniBatchSize: miniBatchSize, miniBatchTokens: miniBatchTokens,
                                           guide: guide.map { RunDocuments.baseModelName(of: URL(fileURLWithPath: $0)) })
        return RunDocuments(model: sentenceModel, modelFolder: model, data: trainingData, dataPath: data, prompts: prompts, loss: lossFunction,
                            lossContext: context, configuration: configuration, trainer: trainer,
                            evaluationFiles: evaluationFiles, logURL: logURL)
    }
}
