/// A dense layer in PyTorch's convention: y = x·Wᵀ + b with W stored [out × in] (checkpoint layout), so
/// the product is one `sgemm` with B transposed in place, never a materialised transpose.
public enum Linear {
    /// x: [rows × inFeatures], weight: [outFeatures × inFeatures], bias: [outFeatures], y: [rows × outFeatures].
    public static func forward(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               _ y: UnsafeMutablePointer<Float>) {
        if Precision.products == .bf16, let bias {
            BF16Linear.forward(x, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, weight: weight, bias: bias, y)
            return
        }
        if let bias {
            for row in 0..<rows { (y + row * outFeatures).update(from: bias, count: outFeatures) }
        }
        BLAS.gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                  b: weight, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: y, ldc: outFeatures)
    }

    /// Given dy [rows × out]: dx = dy·W (overwrite, or += when `accumulate`), dW += dyᵀ·x, db += Σ_rows dy.
    public static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int,
                                inFeatures: Int, outFeatures: Int, weight: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?) {
        if Precision.products == .bf16 {
            BF16Linear.backward(x, dy, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, weight: weight,
                                dx: dx, accumulate: accumulate, dWeight: dWeight)
        } else {
            if let dx {
                BLAS.gemm(m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures,
                          b: weight, ldb: inFeatures, beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
            }
            BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures,
                      b: x, ldb: inFeatures, beta: 1, c: dWeight, ldc: inFeatures)
        }
        if let dBias {
            for row in 0..<rows {
                let d = dy + row * outFeatures
                mapVectors(outFeatures) { i, n in store(load(dBias + i, n) + load(d + i, n), dBias + i, n) }
            }
        }
    }
}
