import Dispatch
import EmberCore
import EmberModel
@testable import EmberTraining
import XCTest

/// Optimisers, schedules and clipping against values computed independently (float64 formulas,
/// written out as literals) or directly.
final class OptimizationTests: XCTestCase {
    private let start: [Float] = [0.5, -1.0, 2.0, 0.0]
    private let gradients: [[Float]] = [[0.1, -0.2, 0.3, 0.0], [-0.05, 0.4, 0.1, 1.0], [0.2, 0.0, -0.3, -0.5]]
    private let rates: [Float] = [0.01, 0.02, 0.005]

    private func parameter(_ name: String, _ values: [Float]) -> Parameter {
        Parameter(name: name, shape: [values.count], value: FloatBuffer(values))
    }

    private func setGrad(_ p: Parameter, _ g: [Float]) {
        for i in 0..<g.count { p.grad[i] = g[i] }
    }

    private func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (a, e) in zip(actual, expected) {
            XCTAssertEqual(Double(a), e, accuracy: tolerance, "\(actual) vs \(expected)", file: file, line: line)
        }
    }

    // MARK: AdamW

    /// Reference: float64, textbook form of torch.optim.AdamW (β 0.9/0.999, ε 1e-8, λ 0.1) on the
    /// float32-rounded inputs above: p ← p(1 − lr·λ); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
    /// p ← p − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε). The weight decays; the bias (by name) does not.
    func testAdamWMatchesTorchReferenceOverThreeSteps() {
        let decayed: [[Double]] = [
            [0.4895000012272426, -0.9890000007309679, 1.988000000571752, 0.0],
            [0.48319426123182246, -0.9943440708897897, 1.966602722828031, -0.014882735928263514],
            [0.4796621064239558, -0.9952618942090178, 1.9653774866450013, -0.01601849639590303],
        ]
        let notDecayed: [[Double]] = [
            [0.4900000012235173, -0.9900000007235173, 1.9900000005568508, 0.0],
            [0.48467326122325755, -0.9973220708690638, 1.9725787227846496, -0.014882735928263514],
            [0.48138270354420676, -0.9987370662200326, 1.9723367879557079, -0.01602593776381172],
        ]
        let weight = parameter("encoder.layer.0.dense.weight", start)
        let bias = parameter("encoder.layer.0.dense.bias", start)
        let norm = parameter("encoder.layer.0.output.LayerNorm.weight", start)
        let adam = AdamW(weightDecay: 0.1)
        for t in 0..<3 {
            for p in [weight, bias, norm] { setGrad(p, gradients[t]) }
            adam.step([weight, bias, norm], learningRate: rates[t])
            assertClose(weight.value.array, decayed[t])
            assertClose(bias.value.array, notDecayed[t])
            assertClose(norm.value.array, notDecayed[t])
        }
        XCTAssertEqual(adam.stepCount, 3)
    }

    func testWeightDecayExclusions() {
        for name in ["embeddings.LayerNorm.weight", "x.bias", "ln.layer_norm.weight", "final_norm.weight", "RMSNorm.scale"] {
            XCTAssertFalse(appliesWeightDecay(to: name), name)
        }
        for name in ["embeddings.word_embeddings.weight", "encoder.layer.3.attention.self.query.weight", "dense.weight"] {
            XCTAssertTrue(appliesWeightDecay(to: name), name)
        }
    }

    func testAdamWSkipsParametersWithoutGradient() {
        let frozen = parameter("frozen.weight", start)
        let adam = AdamW(weightDecay: 0.1)
        adam.step([frozen], learningRate: 0.1)
        XCTAssertEqual(frozen.value.array, start)
        XCTAssertFalse(frozen.hasGrad)
        XCTAssertNil(adam.stateTensors()["exp_avg/frozen.weight"])
    }

    func testAdamWStateRoundTripReproducesTheNextStep() throws {
        func make() -> [Parameter] { [parameter("a.weight", start), parameter("a.bias", [0.25, -0.5, 1, 3])] }
        let original = make(), adam = AdamW(weightDecay: 0.05)
        for t in 0..<2 {
            for p in original { setGrad(p, gradients[t]) }
            adam.step(original, learningRate: rates[t])
        }
        // Through safetensors bytes, as a checkpoint stores them.
        let bytes = try SafeTensors.serialize(adam.stateTensors())
        let state = try SafeTensors.read(bytes, name: "optimizer.safetensors")
        XCTAssertEqual(Set(state.keys), ["step", "exp_avg/a.weight", "exp_avg_sq/a.weight", "step/a.weight",
                                         "exp_avg/a.bias", "exp_avg_sq/a.bias", "step/a.bias"])
        let resumed = AdamW(weightDecay: 0.05)
        try resumed.loadState(state)
        XCTAssertEqual(resumed.stepCount, 2)
        let copies = original.map { parameter($0.name, $0.value.array) }
        for (p, q) in zip(original, copies) { setGrad(p, gradients[2]); setGrad(q, gradients[2]) }
        adam.step(original, learningRate: rates[2])
        resumed.step(copies, learningRate: rates[2])
        for (p, q) in zip(original, copies) { XCTAssertEqual(p.value.array, q.value.array) }
        // A fresh optimiser (bias correction restarting at t = 1) would not have matched.
        let fresh = make()
        for p in fresh { setGrad(p, gradients[2]) }
        AdamW(weightDecay: 0.05).step(fresh, learningRate: rates[2])
        XCTAssertNotEqual(fresh[0].value.array, copies[0].value.array)
    }

    func testLoadStateRejectsForeignOrBrokenState() {
        let sgdState: [String: Tensor] = ["step": Tensor(shape: [1], data: FloatBuffer([1])),
                                          "momentum_buffer/w": Tensor(shape: [1], data: FloatBuffer([0]))]
        XCTAssertThrowsError(try AdamW(weightDecay: 0).loadState(sgdState))
        XCTAssertThrowsError(try AdamW(weightDecay: 0).loadState([:]))
        XCTAssertThrowsError(try AdamW(weightDecay: 0).loadState(["step": Tensor(shape: [1], data: FloatBuffer([1])),
                                                                   "exp_avg/w": Tensor(shape: [1], data: FloatBuffer([0]))]))
        XCTAssertThrowsError(try SGD().loadState(["step": Tensor(shape: [1], data: FloatBuffer([1])),
                                                  "exp_avg/w": Tensor(shape: [1], data: FloatBuffer([0]))]))
    }

    // MARK: SGD

    func testPlainSGDIsExactlyWMinusLrGrad() {
        let p = parameter("w.weight", start)
        setGrad(p, gradients[1])
        SGD().step([p], learningRate: 0.5)
        XCTAssertEqual(p.value.array, zip(start, gradients[1]).map { $0 - 0.5 * $1 })
    }

    /// Reference (float64): torch SGD, momentum 0.9, weight decay 0.1 (coupled: d = g + λp), lr 0.1,
    /// two steps: b = d on the first step, then b = 0.9 b + d; p ← p − lr·b. The bias is not decayed.
    func testSGDWithMomentumAndWeightDecay() throws {
        let w = parameter("w.weight", start), b = parameter("w.bias", start)
        let sgd = SGD(momentum: 0.9, weightDecay: 0.1)
        for p in [w, b] { setGrad(p, gradients[0]) }
        sgd.step([w, b], learningRate: 0.1)
        assertClose(w.value.array, [0.48499999977648256, -0.9699999995529651, 1.949999998509884, 0.0])
        assertClose(b.value.array, zip(start, gradients[0]).map { Double($0) - 0.1 * Double($1) })
        let saved = try SafeTensors.read(SafeTensors.serialize(sgd.stateTensors()), name: "state")
        for p in [w, b] { setGrad(p, gradients[1]) }
        sgd.step([w, b], learningRate: 0.1)
        assertClose(w.value.array, [0.47164999957978726, -0.9732999996066093, 1.8754999967440964, -0.1])

        let resumed = SGD(momentum: 0.9, weightDecay: 0.1)
        try resumed.loadState(saved)
        XCTAssertEqual(resumed.stepCount, 1)
        let w2 = parameter("w.weight", [0.48499999977648256, -0.9699999995529651, 1.949999998509884, 0.0].map { Float($0) })
        setGrad(w2, gradients[1])
        resumed.step([w2], learningRate: 0.1)
        XCTAssertEqual(w2.value.array, w.value.array)
    }

    // MARK: schedules

    func testSchedulesAtBoundarySteps() {
        let T = 100, W = 10, peak: Float = 2e-5
        func lr(_ s: LearningRateSchedule, _ t: Int, warmup: Int = W) -> Double {
            Double(s.learningRate(step: t, totalSteps: T, warmupSteps: warmup, peak: peak))
        }
        let p = Double(peak)
        for s in LearningRateSchedule.allCases {
            XCTAssertEqual(lr(s, 0), 0, "\(s)")                      // the first update of a warmup is at lr 0
            XCTAssertEqual(lr(s, 1), p * 0.1, accuracy: p * 1e-6, "\(s)")
            XCTAssertEqual(lr(s, W - 1), p * 0.9, accuracy: p * 1e-6, "\(s)")
            XCTAssertEqual(lr(s, W), p, accuracy: p * 1e-6, "\(s)")  // warmup done: the peak
            XCTAssertEqual(lr(s, 0, warmup: 0), p, accuracy: p * 1e-6, "\(s)")
        }
        XCTAssertEqual(lr(.linear, T - 1), p / 90, accuracy: p * 1e-6)
        XCTAssertEqual(lr(.linear, T), 0)
        XCTAssertEqual(lr(.linear, T + 5), 0)
        XCTAssertEqual(lr(.linear, 55), p * 0.5, accuracy: p * 1e-6)
        XCTAssertEqual(lr(.constant, T - 1), p, accuracy: p * 1e-6)
        XCTAssertEqual(lr(.constant, T), p, accuracy: p * 1e-6)
        XCTAssertEqual(lr(.cosine, T - 1), p * 0.5 * (1 + cos(Double.pi * 89 / 90)), accuracy: p * 1e-6)
        XCTAssertEqual(lr(.cosine, 55), p * 0.5, accuracy: p * 1e-6)
        XCTAssertEqual(lr(.cosine, T), 0, accuracy: p * 1e-12)
        XCTAssertEqual(LearningRateSchedule(rawValue: "cosine"), .cosine)
        XCTAssertEqual(LearningRateSchedule.warmupSteps(ratio: 0.07, totalSteps: 100), 8)  // as Python: ceil(100 * 0.07 = 7.000000000000001)
        XCTAssertEqual(LearningRateSchedule.warmupSteps(ratio: 0.1, totalSteps: 1000), 100)
    }

    // MARK: clipping

    func testClipGradientNormAgainstDirectComputation() {
        let a = parameter("a", [1, 2, 3]), b = parameter("b", [0, 0]), frozen = parameter("frozen", [5])
        setGrad(a, [3, -4, 12]); setGrad(b, [0.5, -0.25])
        let expected = (9 + 16 + 144 + 0.25 + 0.0625).squareRoot()
        let norm = clipGradientNorm([a, b, frozen], maxNorm: 1)
        XCTAssertEqual(Double(norm), expected, accuracy: 1e-5)
        let c = 1 / (expected + 1e-6)
        assertClose(a.grad.array, [3 * c, -4 * c, 12 * c])
        assertClose(b.grad.array, [0.5 * c, -0.25 * c])
        XCTAssertFalse(frozen.hasGrad)

        // Below the maximum, or with clipping off: gradients untouched, the norm still returned.
        setGrad(a, [3, -4, 12])
        XCTAssertEqual(clipGradientNorm([a], maxNorm: 100), 13, accuracy: 1e-5)
        XCTAssertEqual(a.grad.array, [3, -4, 12])
        XCTAssertEqual(clipGradientNorm([a], maxNorm: 0), 13, accuracy: 1e-5)
        XCTAssertEqual(a.grad.array, [3, -4, 12])
    }

    func testClipNormOfALargeGradientAccumulatesInDouble() {
        // 1M values of 0.1 (and a tail that is not a multiple of 16): Σ g² summed in Float drifts.
        let n = 1_000_003
        let p = Parameter(name: "big", shape: [n], value: FloatBuffer(count: n))
        let g = Float(0.1)
        for i in 0..<n { p.grad[i] = g }
        let expected = (Double(n) * Double(g) * Double(g)).squareRoot()
        XCTAssertEqual(Double(clipGradientNorm([p], maxNorm: 0)), expected, accuracy: expected * 1e-6)
    }
}
