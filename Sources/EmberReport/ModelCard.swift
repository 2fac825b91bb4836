import EmberCore
import Foundation

/// The `README.md` model card of a saved folder, as sentence-transformers writes one next to its models:
/// YAML front matter the Hugging Face Hub reads (library, pipeline, tags with one `loss:` tag per loss
/// class, base model, evaluation results as `model-index`), then what the model is, how to use it, the
/// training data, loss, hyperparameters and log, and the evaluation per Matryoshka dimension.
///
/// A pure function of `Info`, which the caller fills from the run, so it is testable without a model.
public enum ModelCard {
    public struct Loss {
        /// The reference class name ("MatryoshkaLoss", "CachedGISTEmbedLoss").
        public var className: String
        /// Its `get_config_dict()` parameters; values are JSON literals.
        public var parameters: [(name: String, value: String)]
        public init(className: String, parameters: [(name: String, value: String)]) {
            self.className = className
            self.parameters = parameters
        }
    }

    public struct TokenStatistics {
        public var column: String
        public var min: Int
        public var mean: Double
        public var max: Int
        public init(column: String, min: Int, mean: Double, max: Int) {
            self.column = column
            self.min = min
            self.mean = mean
            self.max = max
        }
    }

    public struct Info {
        /// The model trained from: a Hugging Face id where one is known, else its folder.
        public var baseModel: String
        /// Where the card's folder is, for the usage examples.
        public var modelPath: String
        public var maxSequenceLength: Int
        public var outputDimension: Int
        /// "cosine" or "dot" (sentence-transformers' `similarity_fn_name`).
        public var similarity = "cosine"
        /// E.g. "mean"; "cls", "max"…
        public var pooling: String
        public var normalized: Bool
        /// Matryoshka dimensions, largest first; empty when not trained with MatryoshkaLoss.
        public var matryoshkaDims: [Int] = []

        /// The training data file's name, its row count and columns.
        public var dataName: String
        public var dataRows: Int
        public var columns: [String]
        /// The first rows (at most 3 are shown).
        public var samples: [[String]] = []
        /// Tokens per text (special tokens included, truncated as in training), per column.
        public var tokenStatistics: [TokenStatistics] = []
        /// How many rows the statistics were computed on.
        public var statisticsRows = 0

        /// Outermost first (MatryoshkaLoss, then the loss it wraps).
        public var losses: [Loss]
        /// `--prompts`: (column, prompt) in column order, prepended in training and saved as the folder's
        /// prompts under the column's name.
        public var prompts: [(column: String, prompt: String)] = []
        /// Hyperparameters, under the reference's names where it has them (`learning_rate`…).
        public var hyperparameters: [(name: String, value: String)] = []
        /// The run's metrics log (steps and evaluations).
        public var log: RunLog
        /// The optimiser steps this folder's weights have had; log entries after it are ignored.
        public var step: Int
        /// Log entries up to this step are shown when it is later than `step` (the final folder holding a
        /// better checkpoint's weights, `--load-best-model-at-end`).
        public var logThrough: Int? = nil
        public var totalSteps: Int
        /// The evaluation files' names (for the text); nil when the run had no evaluation.
        public var evaluationData: String?
        /// (name, version), Ember first.
        public var frameworkVersions: [(name: String, value: String)] = []

        public init(baseModel: String, modelPath: String, maxSequenceLength: Int, outputDimension: Int, pooling: String,
                    normalized: Bool, dataName: String, dataRows: Int, columns: [String], losses: [Loss], log: RunLog,
                    step: Int, totalSteps: Int) {
            self.baseModel = baseModel
            self.modelPath = modelPath
            self.maxSequenceLength = maxSequenceLength
            self.outputDimension = outputDimension
            self.pooling = pooling
            self.normalized = normalized
            self.dataName = dataName
            self.dataRows = dataRows
            self.columns = columns
            self.losses = losses
            self.log = log
            self.step = step
            self.totalSteps = totalSteps
        }
    }

    /// Whether `text` is a Hugging Face id ("owner/name") rather than a folder path.
    public static func isHubID(_ text: String) -> Bool { EvaluationNames.isHubID(text) }

    /// The whole README.md.
    public static func render(_ info: Info) -> String {
        let card = Card(info)
        return (["---"] + card.frontMatter().lines() + ["---", ""] + card.body()).joined(separator: "\n") + "\n"
    }
}

/// One card being rendered: the log cut at the folder's step, and the evaluation of that step.
struct Card {
    let info: ModelCard.Info
    let steps: [RunLog.Step]
    let evaluations: [RunLog.Evaluation]
    /// The evaluation of exactly this folder's weights (at its step), if the run made one.
    let evaluation: RunLog.Evaluation?

    init(_ info: ModelCard.Info) {
        self.info = info
        let through = max(info.step, info.logThrough ?? info.step)
        steps = info.log.steps.filter { $0.step <= through }
        evaluations = info.log.evaluations.filter { $0.step <= through }
        evaluation = evaluations.last(where: { $0.step == info.step })
    }

    /// A Hugging Face id ("owner/name") as opposed to a folder path.
    var baseIsHubID: Bool { EvaluationNames.isHubID(info.baseModel) }
    var modelName: String { "SentenceTransformer based on \(info.baseModel)" }

    func frontMatter() -> YAMLNode {
        var tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "ember", "dataset_size:\(info.dataRows)"]
        for loss in info.losses where !tags.contains("loss:\(loss.className)") { tags.append("loss:\(loss.className)") }
        var pairs: [(String, YAMLNode)] = [
            ("base_model", .string(info.baseModel)),
            ("library_name", .string("sentence-transformers")),
            ("pipeline_tag", .string("sentence-similarity")),
            ("tags", .list(tags.map(YAMLNode.string))),
        ]
        if let evaluation {
            let task = EvaluationNames.task(of: evaluation)
            let metricNames = EvaluationNames.orderedMetrics(evaluation)
            pairs.append(("metrics", .list(metricNames.map { .string(EvaluationNames.referenceName($0, task: task)) })))
            let results: [YAMLNode] = evaluation.dims.compactMap { dim in
                let values = metricNames.compactMap { name -> YAMLNode? in
                    guard let value = evaluation.results[dim]?[name] ?? nil, value.isFinite else { return nil }
                    let key = EvaluationNames.referenceName(name, task: task)
                    return .map([("type", .string(key)), ("value", .number(value)), ("name", .string(EvaluationNames.title(key)))])
                }
                guard !values.isEmpty else { return nil }
                return .map([
                    ("task", .map([("type", .string(task.type)), ("name", .string(task.name))])),
                    ("dataset", .map([("name", .string("dim \(dim)")), ("type", .string("dim_\(dim)"))])),
                    ("metrics", .list(values)),
                ])
            }
            if !results.isEmpty {
                pairs.append(("model-index", .list([.map([("name", .string(modelName)), ("results", .list(results))])])))
            }
        }
        return .map(pairs)
    }

    func body() -> [String] {
        var out: [String] = []
        let base = baseIsHubID ? "[\(info.baseModel)](https://huggingface.co/\(info.baseModel))" : "`\(info.baseModel)`"
        let finished = info.step >= info.totalSteps || info.logThrough != nil
        out += ["# \(modelName)", "",
                "This is a [sentence-transformers](https://www.SBERT.net) model fine-tuned with Ember from \(base) on "
                + "`\(info.dataName)` (\(info.dataRows) rows). It maps sentences and paragraphs to a "
                + "\(info.outputDimension)-dimensional dense vector space for semantic search, similarity, clustering and classification."
                + (finished ? "" : " This folder is a checkpoint: the weights after step \(info.step) of \(info.totalSteps)."), ""]
        out += ["## Model Details", "", "### Model Description", "",
                "- **Model Type:** Sentence Transformer",
                "- **Base model:** \(base)",
                "- **Maximum Sequence Length:** \(info.maxSequenceLength) tokens",
                "- **Output Dimensionality:** \(info.outputDimension) dimensions",
                "- **Similarity Function:** \(info.similarity == "dot" ? "Dot Product" : "Cosine Similarity")",
                "- **Pooling:** \(info.pooling)\(info.normalized ? ", then L2-normalised" : "")"]
        if !info.matryoshkaDims.isEmpty {
            out.append("- **Matryoshka dimensions:** \(info.matryoshkaDims.map(String.init).joined(separator: ", ")) (truncate the embeddings to any of them and re-normalise)")
        }
        if !info.prompts.isEmpty {
            out.append("- **Training prompts:** " + info.prompts.map { "`\(JSONLiteral.string($0.prompt))` before `\($0.column)`" }.joined(separator: ", ")
                       + "; saved as the folder's prompts under the column names, so `prompt_name=\(JSONLiteral.string(info.prompts[0].column))` embeds as in training")
        }
        if let through = info.logThrough, through > info.step {
            out.append("- **Training steps:** \(through) of \(info.totalSteps); these are the weights of step \(info.step), kept as the best by --load-best-model-at-end")
        } else {
            out.append("- **Training steps:** \(info.step) of \(info.totalSteps)")
        }
        out.append("")
        out += usage()
        out += evaluationSection()
        out += trainingSection()
        out += ["## Framework Versions", ""] + info.frameworkVersions.map { "- \($0.name): \($0.value)" } + [""]
        return out
    }

    func usage() -> [String] {
        // Samples are the texts as trained, prompt included; the snippet passes the prompt by name instead.
        let prompt = info.prompts.first { $0.column == info.columns.first }
        let texts = info.samples.prefix(3).compactMap { $0.first }.map { text -> String in
            let plain = prompt.map { text.hasPrefix($0.prompt) ? String(text.dropFirst($0.prompt.count)) : text } ?? text
            return plain.count > 200 ? String(plain.prefix(200)) : plain
        }
        let examples = texts.count == 3 ? texts : ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
        let smallest = info.matryoshkaDims.last
        var python = ["```python", "from sentence_transformers import SentenceTransformer", "",
                      "model = SentenceTransformer(\(JSONLiteral.string(info.modelPath)))"]
        if let smallest, smallest < info.outputDimension {
            python.append("# or, smaller and faster: SentenceTransformer(..., truncate_dim=\(smallest))")
        }
        python += ["sentences = ["] + examples.map { "    \(JSONLiteral.string($0))," } + ["]",
                   "embeddings = model.encode(sentences\(prompt.map { ", prompt_name=\(JSONLiteral.string($0.column))" } ?? ""))", "print(embeddings.shape)", "# [3, \(info.outputDimension)]", "",
                   "similarities = model.similarity(embeddings, embeddings)", "print(similarities.shape)", "# [3, 3]", "```", ""]
        var ember = "ember encode --model \(Markdown.shellWord(info.modelPath)) --input texts.txt --output embeddings.npy"
        if let prompt { ember += " --prompt-name \(Markdown.shellWord(prompt.column))" }
        if let smallest, smallest < info.outputDimension { ember += "   # --truncate-dim \(smallest) for a Matryoshka size" }
        return ["## Usage", "", "### Direct Usage (Sentence Transformers)", "", "```bash", "pip install -U sentence-transformers", "```", ""]
            + python + ["### Direct Usage (Ember)", "", "```bash", ember, "```", ""]
    }

    func evaluationSection() -> [String] {
        guard let evaluation else { return [] }
        let task = EvaluationNames.task(of: evaluation)
        let primary = task.primary
        let dims = evaluation.dims
        let rows = EvaluationNames.orderedMetrics(evaluation).map { name -> [String] in
            let key = EvaluationNames.referenceName(name, task: task)
            let bold = key == primary
            return [bold ? "**\(key)**" : key] + dims.map { dim in
                let value = Markdown.round4(evaluation.results[dim]?[name] ?? nil)
                return bold && value != "-" ? "**\(value)**" : value
            }
        }
        return ["## Evaluation", "", "### Metrics", "", "#### \(task.name)", "",
                "* Datasets: " + dims.map { "`dim_\($0)`" }.joined(separator: ", ")
                + (info.evaluationData.map { " (`\($0)`, embeddings truncated to each dimension and re-normalised)" } ?? ""),
                "* Evaluated at step \(evaluation.step) by Ember, with the metrics of sentence-transformers' "
                + "[`\(task.evaluator)`](https://sbert.net/docs/package_reference/sentence_transformer/evaluation.html#sentence_transformers.evaluation.\(task.evaluator))",
                "", Markdown.table(["Metric"] + dims.map { "dim_\($0)" }, rows, alignRight: Set(1...max(dims.count, 1))), ""]
    }
}
