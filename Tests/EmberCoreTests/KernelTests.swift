import EmberCore
import Foundation
import XCTest

/// Each kernel's forward against a float64 re-statement of its formula, and each backward against a
/// central finite difference of that float64 forward.
final class KernelTests: XCTestCase {
    func testOpenBLASUsesFastKernelsOnThisCPU() throws {
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        guard let expected = BLAS.preferredCoreType(cpuFlags: flags) else { throw XCTSkip("no AVX2/AVX-512 on this CPU") }
        if let preset = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], preset.lowercased() != expected.lowercased() {
            throw XCTSkip("OPENBLAS_CORETYPE preset to \(preset) by the environment")
        }
        XCTAssertEqual(BLAS.coreName.lowercased(), expected.lowercased())
    }

    func testGemmAllTransposes() {
        var rng = TestRandom(seed: 1)
        let m = 7, n = 5, k = 9
        let a = rng.floats(m * k), b = rng.floats(k * n), c0 = rng.floats(m * n)
        for transA in [false, true] {
            for transB in [false, true] {
                // Store A as [m×k] or its transpose [k×m], same for B.
                let aStored = transA ? (0..<(k * m)).map { i in a[(i % m) * k + i / m] } : a
                let bStored = transB ? (0..<(n * k)).map { i in b[(i % k) * n + i / k] } : b
                var c = c0
                aStored.withUnsafeBufferPointer { ap in bStored.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: transA ? m : k,
                              b: bp.baseAddress!, ldb: transB ? k : n, beta: 2, c: cp.baseAddress!, ldc: n)
                }}}
                let expected = (0..<(m * n)).map { idx -> Double in
                    let i = idx / n, j = idx % n
                    return 0.5 * (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(b[$1 * n + j]) } + 2 * Double(c0[idx])
                }
                assertClose(c, expected, rtol: 1e-5, atol: 1e-5, "gemm transA=\(transA) transB=\(transB)")
            }
        }
    }

    func testExpAndErfAccuracy() {
        var maxExpError = 0.0, maxErfError = 0.0
        for i in 0..<4000 {
            let x = Float(i - 2000) / 100   // [-20, 20)
            let v = Vector(repeating: x)
            maxExpError = max(maxExpError, abs(Double(vexp(v)[0]) - Foundation.exp(Double(x))) / Foundation.exp(Double(x)))
            maxErfError = max(maxErfError, abs(Double(verf(v)[0]) - Foundation.erf(Double(x))))
        }
        XCTAssertLessThan(maxExpError, 5e-7)
        XCTAssertLessThan(maxErfError, 3e-7)
    }

    static func geluDouble(_ x: Double) -> Double { x * 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot())) }

    func testGELUForwardAndBackward() {
        var rng = TestRandom(seed: 2)
        let n = 53   // not a multiple of 16: exercises the tail path
        let x = rng.floats(n, 4), dy = rng.floats(n)
        var y = [Float](repeating: 0, count: n), dx = y
        GELU.forward(x, &y, count: n)
        GELU.backward(x, dy, &dx, count: n)
        assertClose(y, x.map { Self.geluDouble(Double($0)) }, rtol: 1e-6, atol: 3e-7, "gelu")
        let fd = (0..<n).map { i -> Double in
            let xd = Double(x[i]), h = 1e-5
            return Double(dy[i]) * (Self.geluDouble(xd + h) - Self.geluDouble(xd - h)) / (2 * h)
        }
        assertClose(dx, fd, rtol: 1e-5, atol: 1e-6, "gelu backward")
    }

    static func layerNormDouble(_ x: [Double], rows: Int, dim: Int, gamma: [Double], beta: [Double], eps: Double) -> [Double] {
        var y = x
        for r in 0..<rows {
            let row = Array(x[(r * dim)..<((r + 1) * dim)])
            let mean = row.reduce(0, +) / Double(dim)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(dim)
            for j in 0..<dim { y[r * dim + j] = (row[j] - mean) / (variance + eps).squareRoot() * gamma[j] + beta[j] }
        }
        return y
    }

    func testLayerNormForwardAndBackward() {
        var rng = TestRandom(seed: 3)
        let rows = 5, dim = 37, eps = 1e-5
        let x = rng.floats(rows * dim, 2), gamma = rng.floats(dim), beta = rng.floats(dim), dy = rng.floats(rows * dim)
        var y = [Float](repeating: 0, count: rows * dim), dx = y
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        var dGamma = [Float](repeating: 0.5, count: dim), dBeta = [Float](repeating: -0.25, count: dim)  // accumulate onto these
        LayerNorm.forward(x, &y, rows: rows, dim: dim, gamma: gamma, beta: beta, eps: Float(eps), mean: &mean, rstd: &rstd)
        LayerNorm.backward(x, dy, &dx, rows: rows, dim: dim, gamma: gamma, mean: mean, rstd: rstd, dGamma: &dGamma, dBeta: &dBeta)
        let xd = x.map(Double.init), gd = gamma.map(Double.init), bd = beta.map(Double.init), dyd = dy.map(Double.init)
        assertClose(y, Self.layerNormDouble(xd, rows: rows, dim: dim, gamma: gd, beta: bd, eps: eps), rtol: 1e-5, atol: 1e-5, "layernorm")
        func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
            zip(Self.layerNormDouble(x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps), dyd).reduce(0) { $0 + $1.0 * $1.1 }
        }
        assertClose(dx, finiteDifference(xd) { loss($0, gd, bd) }, rtol: 1e-4, atol: 1e-5, "layernorm dx")
        assertClose(dGamma, finiteDifference(gd) { loss(xd, $0, bd) }.map { $0 + 0.5 }, rtol: 1e-4, atol: 1e-5, "layernorm dgamma")
        assertClose(dBeta, finiteDifference(bd) { loss(xd, gd, $0) }.map { $0 - 0.25 }, rtol: 1e-4, atol: 1e-5, "layernorm dbeta")
    }

    func testSoftmaxForwardAndBackward() {
        var rng = TestRandom(seed: 4)
        let rows = 3, cols = 21, stride = 24
        var x = rng.floats(rows * stride, 5)
        let original = x.map(Double.init), dy = rng.floats(rows * stride)
        func softmax(_ v: [Double]) -> [Double] {
            var out = v
            for r in 0..<rows {
                let row = v[(r * stride)..<(r * stride + cols)]
                let m = row.max()!
                let s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                for j in 0..<cols { out[r * stride + j] = Foundation.exp(v[r * stride + j] - m) / s }
            }
            return out
        }
        Softmax.forward(&x, rows: rows, cols: cols, stride: stride)
        let expected = softmax(original)
        let pick = { (v: [Float]) in (0..<rows).flatMap { r in v[(r * stride)..<(r * stride + cols)] } }
        let pickD = { (v: [Double]) in (0..<rows).flatMap { r in v[(r * stride)..<(r * stride + cols)] } }
        assertClose(pick(x), pickD(expected), rtol: 1e-5, atol: 1e-7, "softmax")
        var dx = [Float](repeating: 0, count: rows * stride)
        Softmax.backward(x, dy, &dx, rows: rows, cols: cols, stride: stride)
        let fd = finiteDifference(original) { v in zip(pickD(softmax(v)), pick(dy)).reduce(0) { $0 + $1.0 * Double($1.1) } }
        assertClose(pick(dx), pickD(fd), rtol: 1e-4, atol: 1e-6, "softmax backward")
    }

    func testLinearBackwardAccumulates() {
        var rng = TestRandom(seed: 5)
        let rows = 6, inF = 7, outF = 4
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF), dy = rng.floats(rows * outF)
        var y = [Float](repeating: 0, count: rows * outF)
        Linear.forward(x, rows: rows, inFeatures: inF, outFeatures: outF, weight: w, bias: b, &y)
        var dx = [Float](repeating: 9, count: rows * inF), dW = [Float](repeating: 1, count: outF * inF), dB = [Float](repeating: 2, count: outF)
        Linear.backward(x, dy, rows: rows, inFeatures: inF, outFeatures: outF, weight: w, dx: &dx, dWeight: &dW, dBias: &dB)
        let xd = x.map(Double.init), wd = w.map(Double.init), bd = b.map(Double.init)
        func forward(_ x: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            (0..<(rows * outF)).map { idx in
                let r = idx / outF, o = idx % outF
                return b[o] + (0..<inF).reduce(0) { $0 + x[r * inF + $1] * w[o * inF + $1] }
            }
        }
        assertClose(y, forward(xd, wd, bd), rtol: 1e-5, atol: 1e-6, "linear")
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double { zip(forward(x, w, b), dy).reduce(0) { $0 + $1.0 * Double($1.1) } }
        assertClose(dx, finiteDifference(xd) { loss($0, wd, bd) }, rtol: 1e-4, atol: 1e-5, "linear dx")
        assertClose(dW, finiteDifference(wd) { loss(xd, $0, bd) }.map { $0 + 1 }, rtol: 1e-4, atol: 1e-5, "linear dW")
        assertClose(dB, finiteDifference(bd) { loss(xd, wd, $0) }.map { $0 + 2 }, rtol: 1e-4, atol: 1e-5, "linear db")
    }
}
