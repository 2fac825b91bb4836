import Foundation

/// Learning-rate schedules with Hugging Face `transformers` semantics (`get_scheduler`), the factor
/// that multiplies the peak rate as a function of the optimiser step:
///
/// - `linear` (`get_linear_schedule_with_warmup`): t/max(1,W) for t < W, then max(0, (T−t)/max(1,T−W)).
/// - `constant` (`get_constant_schedule_with_warmup`): t/max(1,W) for t < W, then 1.
/// - `cosine` (`get_cosine_schedule_with_warmup`, num_cycles 0.5): t/max(1,W) for t < W, then
///   max(0, ½(1 + cos(π·p))) with p = (t−W)/max(1,T−W).
///
/// `t` is the 0-based index of the optimiser step about to be taken: HF wraps these in `LambdaLR`,
/// which sets lr = peak·λ(0) at construction and advances once after each `optimizer.step()`, so the
/// k-th update (k = 0, 1, …) uses λ(k). In particular with warmup the first update uses lr 0, and with
/// `linear` the last of T updates uses peak/(T−W). The factor is computed in Double as Python does.
public enum LearningRateSchedule: String, CaseIterable, Sendable {
    case linear, constant, cosine

    /// The learning rate for the optimiser step with 0-based index `step`, of `totalSteps` in all,
    /// with `warmupSteps` of linear warmup from 0 to `peak`.
    public func learningRate(step: Int, totalSteps: Int, warmupSteps: Int, peak: Float) -> Float {
        Float(Double(peak) * factor(step: step, totalSteps: totalSteps, warmupSteps: warmupSteps))
    }

    /// λ(step), the multiplier of the peak rate.
    public func factor(step: Int, totalSteps: Int, warmupSteps: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        let remaining = Double(max(1, totalSteps - warmupSteps))
        switch self {
        case .linear:
            return max(0, Double(totalSteps - step) / remaining)
        case .constant:
            return 1
        case .cosine:
            let progress = Double(step - warmupSteps) / remaining
            return max(0, 0.5 * (1 + cos(Double.pi * 2 * 0.5 * progress)))
        }
    }

    /// Warmup steps from a ratio of the total, as transformers' `get_warmup_steps` does for a
    /// fractional `warmup_steps` / `warmup_ratio`: ceil(T·ratio) in Double arithmetic — so, like
    /// Python, ratio 0.07 of 100 steps gives 8 (100·0.07 = 7.000000000000001).
    public static func warmupSteps(ratio: Double, totalSteps: Int) -> Int {
        Int((Double(totalSteps) * ratio).rounded(.up))
    }
}
