@testable import EmberCore
import EmberModel
import EmberTestSupport
import Foundation
import XCTest

/// `--precision bf16` (#10): linear products with bf16 operands through oneDNN. Not exact — the point is
/// speed — so the tests pin what it must still be: the documented rounding, a product equal to the exact
/// product of the rounded operands, and all-MiniLM-L6-v2 embeddings within 1e-4 cosine of fp32. This
/// machine kind has AVX512_BF16 and `make deps` installs oneDNN: under CI a missing one fails.
final class BF16PrecisionTests: XCTestCase {
    override func setUpWithError() throws {
        guard BF16Machine.shouldTest else { throw XCTSkip("--precision bf16 needs oneDNN and AVX512_BF16") }
        try Precision.use(.bf16)
    }

    override func tearDown() { try? Precision.use(.fp32) }

    func bf16(_ x: Float) -> UInt16 {
        var out: UInt16 = 0
        withUnsafePointer(to: x) { BF16Linear.round($0, &out, count: 1) }
        return out
    }

    func testRoundingToNearestEven() {
        XCTAssertEqual(bf16(1), 0x3F80)
        XCTAssertEqual(bf16(-2), 0xC000)
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F80_8000)), 0x3F80, "a tie rounds to the even mantissa (down)")
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F81_8000)), 0x3F82, "a tie rounds to the even mantissa (up)")
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F80_8001)), 0x3F81, "above the tie rounds up")
        // The vector path (16 at a time) and the scalar tail agree.
        let xs = (0..<37).map { Float($0) * 0.3137 - 5 }
        var out = [UInt16](repeating: 0, count: 37)
        BF16Linear.round(xs, &out, count: 37)
        XCTAssertEqual(out, xs.map(bf16))
    }

    func testProductEqualsTheExactProductOfRoundedOperands() {
        let rows = 37, inF = 48, outF = 20
        let x = (0..<(rows * inF)).map { Float(sin(Double($0) * 0.7)) }
        let w = (0..<(outF * inF)).map { Float(cos(Double($0) * 1.3)) * 0.2 }
        let b = (0..<outF).map { Float($0) * 0.01 }
        var y = [Float](repeating: .nan, count: rows * outF)
        Linear.forward(x, rows: rows, inFeatures: inF, outFeatures: outF, weight: w, bias: b, &y)
        func widen(_ v: Float) -> Double { Double(Float(bitPattern: UInt32(bf16(v)) << 16)) }
        var worst = 0.0, differsFromFP32 = false
        for r in 0..<rows {
            for o in 0..<outF {
                var exact = Double(b[o]), plain = Double(b[o])
                for k in 0..<inF {
                    exact += widen(x[r * inF + k]) * widen(w[o * inF + k])
                    plain += Double(x[r * inF + k]) * Double(w[o * inF + k])
                }
                worst = max(worst, abs(Double(y[r * outF + o]) - exact))
                if abs(Double(y[r * outF + o]) - plain) > 1e-4 { differsFromFP32 = true }
            }
        }
        XCTAssertLessThan(worst, 1e-5, "bf16 products accumulate in fp32")
        XCTAssertTrue(differsFromFP32, "the bf16 path must actually run (fp32 would match the unrounded product)")
    }

    /// Training's two products: dx = dy·W (overwrite and +=) and dW += dyᵀ·x equal the exact products of the
    /// bf16-rounded operands, accumulated onto what the buffers held.
    func testBackwardProductsEqualTheExactProductsOfRoundedOperands() {
        let rows = 29, inF = 40, outF = 24
        let x = (0..<(rows * inF)).map { Float(sin(Double($0) * 0.37)) }
        let dy = (0..<(rows * outF)).map { Float(cos(Double($0) * 0.91)) * 0.3 }
        let w = (0..<(outF * inF)).map { Float(sin(Double($0) * 1.7)) * 0.2 }
        func widen(_ v: Float) -> Double { Double(Float(bitPattern: UInt32(bf16(v)) << 16)) }
        for accumulate in [false, true] {
            let dx0 = (0..<(rows * inF)).map { Float($0 % 7) * 0.125 }, dW0 = (0..<(outF * inF)).map { Float($0 % 5) * -0.25 }
            var dx = dx0, dW = dW0, dBias = [Float](repeating: 0, count: outF)
            Linear.backward(x, dy, rows: rows, inFeatures: inF, outFeatures: outF, weight: w, dx: &dx, accumulate: accumulate,
                            dWeight: &dW, dBias: &dBias)
            var worstX = 0.0, worstW = 0.0, differs = false
            for r in 0..<rows {
                for i in 0..<inF {
                    var exact = accumulate ? Double(dx0[r * inF + i]) : 0, plain = exact
                    for o in 0..<outF {
                        exact += widen(dy[r * outF + o]) * widen(w[o * inF + i])
                        plain += Double(dy[r * outF + o]) * Double(w[o * inF + i])
                    }
                    worstX = max(worstX, abs(Double(dx[r * inF + i]) - exact))
                    if abs(Double(dx[r * inF + i]) - plain) > 1e-4 { differs = true }
                }
            }
            for o in 0..<outF {
                for i in 0..<inF {
                    var exact = Double(dW0[o * inF + i])
                    for r in 0..<rows { exact += widen(dy[r * outF + o]) * widen(x[r * inF + i]) }
                    worstW = max(worstW, abs(Double(dW[o * inF + i]) - exact))
                }
            }
            XCTAssertLessThan(worstX, 1e-5, "dx (accumulate \(accumulate))")
            XCTAssertLessThan(worstW, 1e-5, "dW += dyᵀ·x (accumulate)")
            XCTAssertTrue(differs, "the bf16 path must actually run")
        }
    }

    /// Two cores running bf16 products at once (CoreWorkers' scheme) get what one core gets alone. With
    /// oneDNN's default scratchpad (the primitive's own), two runs of one primitive overwrote each other's.
    func testConcurrentProductsEqualSerialOnes() {
        // all-MiniLM-L6-v2's products at a mini-batch's token count (the dW product needs a scratchpad).
        let shapes = [(rows: 448, inF: 384, outF: 1536), (rows: 448, inF: 1536, outF: 384), (rows: 300, inF: 384, outF: 1152)]
        func wave(_ count: Int, _ step: Double, _ scale: Float = 1) -> [Float] {
            (0..<count).map { i -> Float in Float(sin(Double(i) * step)) * scale }
        }
        let inputs: [([Float], [Float], [Float])] = shapes.map { s in
            (wave(s.rows * s.inF, 0.013), wave(s.rows * s.outF, 0.029), wave(s.outF * s.inF, 0.007, 0.1))
        }
        func run(_ job: Int) -> [Float] {
            let s = shapes[job / 4 % shapes.count], (x, dy, w) = inputs[job / 4 % shapes.count]
            var dx = [Float](repeating: 0, count: s.rows * s.inF), dW = [Float](repeating: 0, count: s.outF * s.inF)
            var dBias = [Float](repeating: 0, count: s.outF)
            for _ in 0..<4 {
                Linear.backward(x, dy, rows: s.rows, inFeatures: s.inF, outFeatures: s.outF, weight: w, dx: &dx, accumulate: true,
                                dWeight: &dW, dBias: &dBias)
            }
            return dx + dW
        }
        let serial = (0..<shapes.count).map { run(4 * $0) }
        let jobs = 4 * shapes.count   // four jobs per shape: the two running at once mostly share a primitive
        let results = UnsafeMutablePointer<[Float]>.allocate(capacity: jobs)
        results.initialize(repeating: [], count: jobs)
        defer { results.deinitialize(count: jobs); results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: jobs) { results[$0] = run($0) }
        for j in 0..<jobs { XCTAssertTrue(results[j] == serial[j / 4 % shapes.count], "job \(j) differs from the same product run alone") }
    }

    /// Weights are rounded once and cached; an in-place update that the 16-value fingerprint cannot see is
    /// picked up after `Precision.weightsChanged()` (what the trainer calls after every optimiser step).
    func testWeightCopiesRefreshAfterWeightsChanged() {
        let rows = 3, inF = 64, outF = 32
        let x = [Float](repeating: 1, count: rows * inF), b = [Float](repeating: 0, count: outF)
        var w = [Float](repeating: 0.5, count: outF * inF)
        var y = [Float](repeating: 0, count: rows * outF)
        Linear.forward(x, rows: rows, inFeatures: inF, outFeatures: outF, weight: w, bias: b, &y)
        XCTAssertEqual(y[0], 32)
        w.withUnsafeMutableBufferPointer { p in
            p[1] = 4.5   // row 0, not one of the sampled values
            Linear.forward(x, rows: rows, inFeatures: inF, outFeatures: outF, weight: p.baseAddress!, bias: b, &y)
            XCTAssertEqual(y[0], 32, "same buffer, no notice: the cached copy is used (the contract weightsChanged exists for)")
            Precision.weightsChanged()
            Linear.forward(x, rows: rows, inFeatures: inF, outFeatures: outF, weight: p.baseAddress!, bias: b, &y)
            XCTAssertEqual(y[0], 36, "after weightsChanged the product uses the new weights")
        }
    }

    func testMiniLMEmbeddingsStayWithinCosine1e4OfFP32() throws {
        let model = try SentenceModel(folder: try MiniLMFolder.require())
        let texts = ["A man is playing a guitar.", "How do I reset my password?", "The quick brown fox jumps over the lazy dog",
                     String(repeating: "long passage about embeddings and retrieval ", count: 12)]
        let half = model.encode(texts)
        try Precision.use(.fp32)
        let full = model.encode(texts)
        let D = model.embeddingDimension
        var differs = false
        for i in 0..<texts.count {
            var dot = 0.0, na = 0.0, nb = 0.0
            for d in 0..<D {
                let a = Double(half[i * D + d]), b = Double(full[i * D + d])
                dot += a * b; na += a * a; nb += b * b
                if a != b { differs = true }
            }
            XCTAssertGreaterThan(dot / (na * nb).squareRoot(), 0.9999, "text \(i)")
        }
        XCTAssertTrue(differs, "bf16 embeddings identical to fp32: the bf16 path did not run")
    }
}
