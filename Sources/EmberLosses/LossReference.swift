import EmberCore

/// A loss as sentence-transformers names it: the class a user of the reference library would instantiate
/// for the same training, and its `get_config_dict()` parameters. Model cards and reports use it, so that
/// a card written by Ember reads like one the reference writes (`loss:ClassName` tags, a parameter block).
///
/// Parameter values are JSON literals (`20.0`, `"cos_sim"`, `["query_to_doc"]`, `null`), which is how the
/// reference prints a loss configuration.
public struct LossReference: Equatable, Sendable {
    public struct Parameter: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var className: String
    public var parameters: [Parameter]
    /// The wrapped loss (MatryoshkaLoss's `loss`), nil for a plain loss.
    public var inner: LossReference? {
        get { wrapped.first }
        set { wrapped = newValue.map { [$0] } ?? [] }
    }
    // An array, because a struct cannot hold an optional of itself.
    private var wrapped: [LossReference]

    public init(className: String, parameters: [Parameter], inner: LossReference? = nil) {
        self.className = className
        self.parameters = parameters
        wrapped = inner.map { [$0] } ?? []
    }

    /// This class and every wrapped one, outermost first ("MatryoshkaLoss", "CachedGISTEmbedLoss"): the
    /// reference tags a card with one `loss:` tag per class.
    public var classNames: [String] { [className] + (inner?.classNames ?? []) }
}

/// What the loss itself does not know but its reference class depends on: GradCache is the trainer's
/// engine, not a property of the loss, yet the reference has separate `Cached…` classes for it; the guide
/// model of GIST is a model the trainer holds.
public struct LossReferenceContext: Sendable {
    /// `--mini-batch-size`: GradCache by count.
    public var miniBatchSize: Int?
    /// `--mini-batch-tokens`: GradCache by token budget (`mini_batch_num_tokens` in the reference).
    public var miniBatchTokens: Int?
    /// How the guide model is named in the parameters (its id or folder), for guided losses.
    public var guide: String?

    public init(miniBatchSize: Int? = nil, miniBatchTokens: Int? = nil, guide: String? = nil) {
        self.miniBatchSize = miniBatchSize
        self.miniBatchTokens = miniBatchTokens
        self.guide = guide
    }

    public var isCached: Bool { miniBatchSize != nil || miniBatchTokens != nil }

    /// The cached classes' extra parameters.
    var cachingParameters: [LossReference.Parameter] {
        var out: [LossReference.Parameter] = []
        if let size = miniBatchSize { out.append(.init("mini_batch_size", JSONLiteral.int(size))) }
        if let tokens = miniBatchTokens { out.append(.init("mini_batch_num_tokens", JSONLiteral.int(tokens))) }
        return out
    }
}

extension EmbeddingLoss {
    /// Default for losses without a reference counterpart: Ember's own name, no parameters.
    public func reference(in context: LossReferenceContext) -> LossReference {
        if let described = self as? ReferenceDescribed { return described.describeReference(in: context) }
        return LossReference(className: name, parameters: [])
    }
}

/// Losses that know their sentence-transformers class (MNRL family, GIST, Matryoshka).
public protocol ReferenceDescribed {
    func describeReference(in context: LossReferenceContext) -> LossReference
}

extension MultipleNegativesRankingLoss: ReferenceDescribed {
    public func describeReference(in context: LossReferenceContext) -> LossReference {
        let cached = context.isCached ? "Cached" : ""
        let similarityName = similarity == .cosine ? "cos_sim" : "dot_score"
        // The symmetric preset has its own (since v5.3 deprecated) class with a shorter signature.
        if directions == [.queryToDoc, .docToQuery] && partitionMode == .perDirection && hardnessMode == nil {
            return LossReference(className: "\(cached)MultipleNegativesSymmetricRankingLoss", parameters: [
                .init("scale", JSONLiteral.float(scale)), .init("similarity_fct", JSONLiteral.string(similarityName)),
                .init("gather_across_devices", JSONLiteral.bool(false)),
            ] + context.cachingParameters)
        }
        return LossReference(className: "\(cached)MultipleNegativesRankingLoss", parameters: [
            .init("scale", JSONLiteral.float(scale)), .init("similarity_fct", JSONLiteral.string(similarityName)),
            .init("gather_across_devices", JSONLiteral.bool(false)),
            .init("directions", JSONLiteral.array(directions.map { JSONLiteral.string($0.rawValue) })),
            .init("partition_mode", JSONLiteral.string(partitionMode.rawValue)),
            .init("hardness_mode", hardnessMode.map { JSONLiteral.string($0.rawValue) } ?? "null"),
            .init("hardness_strength", JSONLiteral.float(hardnessStrength)),
        ] + context.cachingParameters)
    }
}

extension GISTEmbedLoss: ReferenceDescribed {
    public func describeReference(in context: LossReferenceContext) -> LossReference {
        LossReference(className: context.isCached ? "CachedGISTEmbedLoss" : "GISTEmbedLoss", parameters: [
            .init("guide", context.guide.map(JSONLiteral.string) ?? "null"),
            .init("temperature", JSONLiteral.float(temperature)),
            .init("margin_strategy", JSONLiteral.string(marginStrategy.rawValue)),
            .init("margin", JSONLiteral.float(margin)),
            .init("contrast_anchors", JSONLiteral.bool(contrastAnchors)),
            .init("contrast_positives", JSONLiteral.bool(contrastPositives)),
            .init("gather_across_devices", JSONLiteral.bool(false)),
        ] + context.cachingParameters)
    }
}

extension MatryoshkaLoss: ReferenceDescribed {
    /// The reference wraps the cached loss (`MatryoshkaLoss(model, CachedGISTEmbedLoss(…), …)`), so the
    /// caching context goes to the inner loss; `n_dims_per_step` -1 means all dims every step.
    public func describeReference(in context: LossReferenceContext) -> LossReference {
        let innerReference = inner.reference(in: context)
        return LossReference(className: "MatryoshkaLoss", parameters: [
            .init("loss", JSONLiteral.string(innerReference.className)),
            .init("matryoshka_dims", JSONLiteral.array(dims.map(JSONLiteral.int))),
            .init("matryoshka_weights", JSONLiteral.array(weights.map(JSONLiteral.float))),
            .init("n_dims_per_step", JSONLiteral.int(dimsPerStep ?? -1)),
        ], inner: innerReference)
    }
}
