import EmberCore

/// The settings of `mine_hard_negatives` that need no second model, under the reference's meaning
/// (SEMANTICS.md §3–§5). Flag names are the CLI's, for error messages.
public struct MiningOptions: Sendable {
    public enum Sampling: String, Sendable, CaseIterable { case top, random }
    public enum OutputFormat: String, Sendable, CaseIterable {
        case triplet, nTuple = "n-tuple", labeledPair = "labeled-pair", labeledList = "labeled-list"
    }

    public var numNegatives = 3
    public var rangeMin = 0
    /// nil: derived as the reference derives it (`resolvedRangeMax`).
    public var rangeMax: Int?
    public var maxScore: Double?
    public var minScore: Double?
    public var absoluteMargin: Double?
    public var relativeMargin: Double?
    public var sampling = Sampling.top
    public var outputFormat = OutputFormat.triplet
    public var outputScores = false
    /// Positives stay among the candidates; forces the n-tuple format, as the reference does.
    public var includePositives = false
    /// `random`'s seed: Ember draws with CPython's generator (EmberCore's PythonRandom), so `--seed S`
    /// gives the rows the reference gives after `random.seed(S)`.
    public var seed: UInt64 = 42

    public init() {}

    /// The largest count accepted for --num-negatives, --range-min and --range-max.
    public static let largest = 1 << 30

    /// The format actually written: `includePositives` forces n-tuple (the reference warns and does so).
    public var effectiveFormat: OutputFormat { includePositives ? .nTuple : outputFormat }

    /// `range_max` as given, or derived (§3.1): `range_min + 10·N + max_positives` when a margin or
    /// `max_score` is set (filters thin the pool), else `range_min + N + max_positives`. `min_score` alone
    /// does not select the ×10 branch. `maxPositives` is the raw row count (duplicates included).
    public func resolvedRangeMax(maxPositives: Int) -> Int {
        if let rangeMax { return rangeMax }
        let filtered = absoluteMargin != nil || relativeMargin != nil || maxScore != nil
        return rangeMin + (filtered ? 10 : 1) * numNegatives + maxPositives
    }

    /// The reference's checks, in its order, as one-line errors naming Ember's flags.
    public func validate(maxPositives: Int) throws {
        guard numNegatives >= 1 else { throw EmberError("--num-negatives must be at least 1, got \(numNegatives)") }
        // Bounds far beyond any use, so that the derived range_max and the slot counts cannot overflow.
        for (flag, value) in [("--num-negatives", numNegatives), ("--range-min", rangeMin), ("--range-max", rangeMax ?? 0)]
            where value > Self.largest {
            throw EmberError("\(flag) must be at most \(Self.largest), got \(value)")
        }
        guard rangeMin >= 0 else { throw EmberError("--range-min must be non-negative, got \(rangeMin)") }
        let rangeMax = resolvedRangeMax(maxPositives: maxPositives)
        guard rangeMin < rangeMax else {
            throw EmberError("--range-min must be smaller than --range-max, got --range-min \(rangeMin) and --range-max \(rangeMax)")
        }
        let window = rangeMax - rangeMin
        guard numNegatives <= window else {
            throw EmberError("--num-negatives \(numNegatives) is larger than the rank window: only \(window) candidates remain after skipping the first --range-min \(rangeMin) of --range-max \(rangeMax); lower --num-negatives or --range-min, or raise --range-max")
        }
        for (flag, value) in [("--max-score", maxScore), ("--min-score", minScore), ("--absolute-margin", absoluteMargin),
                              ("--relative-margin", relativeMargin)] {
            if let value, !value.isFinite { throw EmberError("\(flag) must be a finite number, got \(value)") }
        }
    }
}
