import Dispatch
import EmberCore
import EmberModel
import Foundation

/// Updates parameters from their accumulated gradients. State (moments, step counts) is keyed by
/// parameter name, so a run resumed from `stateTensors()` continues exactly; parameters whose gradient
/// was never allocated (`hasGrad == false`) are skipped, as torch skips `grad is None`.
public protocol Optimizer: AnyObject {
    /// One update of every parameter in `parameters` with learning rate `learningRate`.
    func step(_ parameters: [Parameter], learningRate: Float)
    /// The optimiser's state as named float tensors, for a checkpoint's safetensors file.
    func stateTensors() -> [String: Tensor]
    /// Replaces the state with one written by `stateTensors()` (of the same optimiser kind).
    func loadState(_ tensors: [String: Tensor]) throws
    /// How many times `step` has been called (including steps before a `loadState`).
    var stepCount: Int { get }
}

/// Whether weight decay applies to a parameter (spec §10.3): not to biases or normalisation weights.
/// Hugging Face excludes LayerNorm modules and names matching bias / layernorm / rmsnorm / norm; for
/// Ember's checkpoint names (`…LayerNorm.weight`, `…bias`, `…layer_norm…`) a case-insensitive
/// substring test for "bias" or "norm" selects the same parameters.
public func appliesWeightDecay(to name: String) -> Bool {
    let lower = name.lowercased()
    return !lower.contains("bias") && !lower.contains("norm")
}

/// Element ranges of the parameters, cut into chunks so large tensors (the 11.7M-float word
/// embedding) spread over both cores; each chunk is updated independently.
func forEachChunk(_ parameters: [Parameter], _ body: (_ index: Int, _ range: Range<Int>) -> Void) {
    let chunk = 1 << 18
    var work: [(Int, Range<Int>)] = []
    for (index, p) in parameters.enumerated() where p.hasGrad {
        var start = 0
        while start < p.count { work.append((index, start..<min(start + chunk, p.count))); start += chunk }
    }
    if work.count <= 1 || parameters.reduce(0, { $0 + $1.count }) < 1 << 20 {
        for (index, range) in work { body(index, range) }
    } else {
        DispatchQueue.concurrentPerform(iterations: work.count) { body(work[$0].0, work[$0].1) }
    }
}

/// Reads a checkpoint's scalar step tensor.
func readStep(_ tensors: [String: Tensor], key: String) throws -> Int {
    guard let t = tensors[key] else { throw EmberError("optimizer state: no '\(key)' tensor") }
    guard t.count == 1, t.data[0] >= 0, t.data[0] == t.data[0].rounded() else {
        throw EmberError("optimizer state: '\(key)' is not a step count")
    }
    return Int(t.data[0])
}

func scalarTensor(_ value: Int) -> Tensor { Tensor(shape: [1], data: FloatBuffer([Float(value)])) }

/// torch.optim.AdamW (amsgrad off, maximize off) — the `adamw_torch` optimiser of Hugging Face's
/// trainer. Per parameter, with its own step count t (torch keeps `state["step"]` per parameter):
///
///     p ← p · (1 − lr·λ)                       decoupled weight decay, before the Adam update
///     m ← m + (1 − β1)·(g − m)                 torch's `lerp_`
///     v ← v·β2 + (1 − β2)·g·g                  `mul_(β2).addcmul_`
///     p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
///
/// The scalar factors are computed in Double (torch computes them as Python floats) and applied in
/// Float32 in torch's operation order. β1, β2 and ε are Double for that reason: a Float 0.9 would
/// shift the bias correction by ~2e-7. λ is zero for parameters `appliesWeightDecay` rejects.
public final class AdamW: Optimizer {
    public let beta1: Double, beta2: Double, eps: Double
    public let weightDecay: Float
    public private(set) var stepCount = 0

    final class Moments {
        let m: FloatBuffer, v: FloatBuffer
        var step = 0
        init(count: Int) { m = FloatBuffer(count: count); v = FloatBuffer(count: count) }
        init(m: FloatBuffer, v: FloatBuffer, step: Int) { self.m = m; self.v = v; self.step = step }
    }
    private var state: [String: Moments] = [:]

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Float) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Parameter], learningRate: Float) {
        stepCount += 1
        defer { Precision.weightsChanged() }   // the weights change in place: bf16 copies are stale
        let lr = Double(learningRate)
        struct Factors { var decay, stepSize, bc2Sqrt: Float }
        var factors: [Factors] = []
        var moments: [Moments] = []
        let unused = Moments(count: 0)  // stands in for parameters without a gradient (skipped)
        for p in parameters {
            guard p.hasGrad else {
                factors.append(Factors(decay: 1, stepSize: 0, bc2Sqrt: 1))
                moments.append(unused)
                continue
            }
            let s: Moments
            if let existing = state[p.name] {
                precondition(existing.m.count == p.count, "optimizer state for \(p.name) has \(existing.m.count) values, the parameter \(p.count)")
                s = existing
            } else {
                s = Moments(count: p.count)
                state[p.name] = s
            }
            s.step += 1
            let t = Double(s.step)
            let wd = appliesWeightDecay(to: p.name) ? Double(weightDecay) : 0
            factors.append(Factors(decay: Float(1 - lr * wd),
                                   stepSize: Float(lr / (1 - pow(beta1, t))),
                                   bc2Sqrt: Float((1 - pow(beta2, t)).squareRoot())))
            moments.append(s)
        }
        let oneMinusBeta1 = Float(1 - beta1), beta2 = Float(self.beta2), oneMinusBeta2 = Float(1 - self.beta2)
        let eps = Float(self.eps)
        forEachChunk(parameters) { index, range in
            let f = factors[index]
            let p = parameters[index].value.pointer, g = parameters[index].grad.pointer
            let m = moments[index].m.pointer, v = moments[index].v.pointer
            let negStepSize = -f.stepSize, decay = f.decay, bc2Sqrt = f.bc2Sqrt
            for i in range {
                let gi = g[i]
                let mi = m[i] + oneMinusBeta1 * (gi - m[i])
                let vi = v[i] * beta2 + oneMinusBeta2 * gi * gi
                m[i] = mi
                v[i] = vi
                // v ≥ 0, so `magnitude` changes nothing (NaN stays NaN), but it lets LLVM drop the
                // errno-setting `sqrtf` fallback of `squareRoot()` and vectorise the loop: 3× faster.
                let denom = vi.magnitude.squareRoot() / bc2Sqrt + eps
                p[i] = p[i] * decay + negStepSize * mi / denom
            }
        }
    }

    /// `exp_avg/<name>`, `exp_avg_sq/<name>` (shape [count]), `step/<name>` ([1]) per parameter, and
    /// `step` ([1]), the global count. Steps are stored as Float32: exact below 2^24.
    public func stateTensors() -> [String: Tensor] {
        var tensors: [String: Tensor] = ["step": scalarTensor(stepCount)]
        for (name, s) in state {
            tensors["exp_avg/\(name)"] = Tensor(shape: [s.m.count], data: s.m.copy())
            tensors["exp_avg_sq/\(name)"] = Tensor(shape: [s.v.count], data: s.v.copy())
            tensors["step/\(name)"] = scalarTensor(s.step)
        }
        return tensors
    }

    public func loadState(_ tensors: [String: Tensor]) throws {
        let global = try readStep(tensors, key: "step")
        var loaded: [String: Moments] = [:]
        for key in tensors.keys where key != "step" {
            guard let slash = key.firstIndex(of: "/"),
                  ["exp_avg", "exp_avg_sq", "step"].contains(key[..<slash]) else {
                throw EmberError("optimizer state: unexpected tensor '\(key)' (not an AdamW state)")
            }
            let name = String(key[key.index(after: slash)...])
            if loaded[name] != nil { continue }
            guard let m = tensors["exp_avg/\(name)"], let v = tensors["exp_avg_sq/\(name)"] else {
                throw EmberError("optimizer state: incomplete moments for '\(name)'")
            }
            guard m.count == v.count else { throw EmberError("optimizer state: moment sizes differ for '\(name)'") }
            loaded[name] = Moments(m: m.data.copy(), v: v.data.copy(), step: try readStep(tensors, key: "step/\(name)"))
        }
        state = loaded
        stepCount = global
    }
}

/// torch.optim.SGD (dampening 0, no Nesterov): g′ = g + λ·p (coupled weight decay, λ = 0 for the
/// parameters `appliesWeightDecay` rejects); with momentum μ > 0, b ← g′ on a parameter's first
/// step, then b ← μ·b + g′, and g′ ← b; finally p ← p − lr·g′. With the defaults this is exactly
/// w − lr·∇L, the update the CLI's gradient-parity check relies on (cli.md).
public final class SGD: Optimizer {
    public let momentum: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    private var buffers: [String: FloatBuffer] = [:]

    public init(momentum: Float = 0, weightDecay: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Parameter], learningRate: Float) {
        stepCount += 1
        defer { Precision.weightsChanged() }   // the weights change in place: bf16 copies are stale
        var decays: [Float] = []
        var momentumBuffers: [FloatBuffer?] = []
        var fresh: [Bool] = []
        for p in parameters {
            decays.append(appliesWeightDecay(to: p.name) ? weightDecay : 0)
            if momentum != 0 && p.hasGrad {
                if let b = buffers[p.name] {
                    precondition(b.count == p.count, "optimizer state for \(p.name) has \(b.count) values, the parameter \(p.count)")
                    momentumBuffers.append(b); fresh.append(false)
                } else {
                    let b = FloatBuffer(count: p.count)
                    buffers[p.name] = b
                    momentumBuffers.append(b); fresh.append(true)
                }
            } else {
                momentumBuffers.append(nil); fresh.append(false)
            }
        }
        let lr = learningRate, mu = momentum
        forEachChunk(parameters) { index, range in
            let p = parameters[index].value.pointer, g = parameters[index].grad.pointer
            let wd = decays[index]
            if let b = momentumBuffers[index]?.pointer {
                let first = fresh[index]
                for i in range {
                    let d = wd == 0 ? g[i] : g[i] + wd * p[i]
                    let bi = first ? d : b[i] * mu + d
                    b[i] = bi
                    p[i] = p[i] + -lr * bi
                }
            } else {
                for i in range {
                    let d = wd == 0 ? g[i] : g[i] + wd * p[i]
                    p[i] = p[i] + -lr * d
                }
            }
        }
    }

    /// `momentum_buffer/<name>` per parameter (only with momentum) and `step` ([1]).
    public func stateTensors() -> [String: Tensor] {
        var tensors: [String: Tensor] = ["step": scalarTensor(stepCount)]
        for (name, b) in buffers { tensors["momentum_buffer/\(name)"] = Tensor(shape: [b.count], data: b.copy()) }
        return tensors
    }

    public func loadState(_ tensors: [String: Tensor]) throws {
        let global = try readStep(tensors, key: "step")
        var loaded: [String: FloatBuffer] = [:]
        for (key, t) in tensors where key != "step" {
            guard key.hasPrefix("momentum_buffer/") else {
                throw EmberError("optimizer state: unexpected tensor '\(key)' (not an SGD state)")
            }
            loaded[String(key.dropFirst("momentum_buffer/".count))] = t.data.copy()
        }
        buffers = loaded
        stepCount = global
    }
}
