import EmberCore

/// The reference's selection from each query's retrieved pool (SEMANTICS.md §3.2–§4), in its order:
/// padding, positives (unless included), absolute margin, relative margin, max_score, min_score, the
/// top `range_max` survivors, the `range_min` cut, then sampling.
///
/// Every comparison is in float32 with the threshold cast to float32, and equality is kept (a candidate
/// is removed only when `s + am > minpos`, `s > minpos − |minpos|·rm`, `s > max_score` or
/// `s < min_score`). `minpos` is the query's minimum positive score (its hardest positive), shared by all
/// of its rows. `range_min`/`range_max` count ranks among the surviving candidates, not raw ranks.
///
/// The skip counts replicate the reference's bookkeeping, quirks included: the denominator starts at
/// queries × K, the margins decrement it, max_score and min_score do not, and the min_score count also
/// counts slots already removed (`-inf < min_score`).
public enum NegativeSelection {
    /// One filter's removals, for the summary's "Skipped …" lines.
    public struct Skip: Sendable, Equatable {
        /// The reference's parameter name (`absolute_margin`, `relative_margin`, `max_score`, `min_score`).
        public let name: String
        public let value: Double
        public let skipped: Int
        /// The denominator the reference divides by at that point.
        public let candidates: Int
    }

    public struct Selection: Sendable {
        /// `negatives[q]`: the chosen corpus indices of query q, best first (at most N; fewer when too few
        /// candidates survive).
        public var negatives: [[Int]]
        /// Their scores (the retrieval scores), aligned with `negatives`.
        public var negativeScores: [[Float]]
        public var skips: [Skip]
    }

    /// `pool` holds each query's best retrieved candidates, best first; `slots` is the reference's K
    /// (range_max + max positives), which may exceed `pool.k` when the corpus is smaller: the missing
    /// slots are padding (`-inf`), counted in the skip statistics as the reference counts them.
    /// `minPositiveScores[q]` is q's minimum positive score.
    public static func select(problem: MiningProblem, pool: TopKSearch.Result, minPositiveScores: [Float],
                              options: MiningOptions, rangeMax: Int, slots: Int? = nil) -> Selection {
        let K = pool.k
        let padding = problem.queries.count * max(0, (slots ?? K) - K)
        var scores = pool.scores
        var candidates = problem.queries.count * K + padding
        var skips: [Skip] = []

        // Padding is already -inf. Positives: masked by corpus index (= by exact text, the corpus being distinct).
        if !options.includePositives {
            for q in problem.queries.indices {
                let positives = Set(problem.positiveIndices[q].map(Int32.init))
                for j in 0..<K where positives.contains(pool.indices[q * K + j]) { scores[q * K + j] = -.infinity }
            }
        }

        /// Removes the slots of every query for which `removed(score, q)` holds; returns how many.
        func filter(_ removed: (Float, Int) -> Bool) -> Int {
            var count = 0
            for q in problem.queries.indices {
                for j in 0..<K where removed(scores[q * K + j], q) {
                    scores[q * K + j] = -.infinity
                    count += 1
                }
            }
            return count
        }

        if let am = options.absoluteMargin {
            let margin = Float(am)
            let skipped = filter { s, q in s + margin > minPositiveScores[q] }
            if skipped > 0 { skips.append(Skip(name: "absolute_margin", value: am, skipped: skipped, candidates: candidates)) }
            candidates -= skipped
        }
        if let rm = options.relativeMargin {
            let margin = Float(rm)
            let thresholds = minPositiveScores.map { $0 - abs($0) * margin }
            let skipped = filter { s, q in s > thresholds[q] }
            if skipped > 0 { skips.append(Skip(name: "relative_margin", value: rm, skipped: skipped, candidates: candidates)) }
            candidates -= skipped
        }
        if let ms = options.maxScore {
            let bound = Float(ms)
            let skipped = filter { s, _ in s > bound }
            if skipped > 0 { skips.append(Skip(name: "max_score", value: ms, skipped: skipped, candidates: candidates)) }
        }
        if let ms = options.minScore {
            let bound = Float(ms)
            // Counts -inf slots too (-inf < bound), as the reference does; setting them again is harmless.
            let skipped = filter { s, _ in s < bound } + padding
            if skipped > 0 { skips.append(Skip(name: "min_score", value: ms, skipped: skipped, candidates: candidates)) }
        }

        // Python's generator, seeded as random.seed(--seed): the reference's rows for the same seed.
        var generator = PythonRandom(seed: options.seed)
        var negatives: [[Int]] = [], negativeScores: [[Float]] = []
        negatives.reserveCapacity(problem.queries.count)
        negativeScores.reserveCapacity(problem.queries.count)
        let N = options.numNegatives
        for q in problem.queries.indices {
            // The pool is sorted best first, so the survivors keep that order (ties: lower corpus index).
            var survivors: [Int] = []   // slot numbers
            for j in 0..<K where scores[q * K + j] != -.infinity {
                survivors.append(j)
                if survivors.count == rangeMax { break }
            }
            let window = survivors.count > options.rangeMin ? Array(survivors[options.rangeMin...]) : []
            let chosen: [Int]
            switch options.sampling {
            case .top:
                chosen = Array(window.prefix(N))
            case .random:
                // As the reference: N distinct positions out of max(v, N), drawn once per query even when
                // fewer than N candidates survive; positions past the survivors stand for missing ones.
                let positions = generator.sample(max(window.count, N), N)
                chosen = positions.filter { $0 < window.count }.sorted().map { window[$0] }
            }
            negatives.append(chosen.map { Int(pool.indices[q * K + $0]) })
            negativeScores.append(chosen.map { pool.scores[q * K + $0] })
        }
        return Selection(negatives: negatives, negativeScores: negativeScores, skips: skips)
    }
}
