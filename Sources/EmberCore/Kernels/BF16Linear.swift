import Foundation

/// Which arithmetic the dense layers' products use. `.fp32` (the default) is OpenBLAS `sgemm`, the path
/// every parity test checks. `.bf16` (`--precision bf16`) rounds both operands of each linear layer's
/// products — forward, and in training dx and dW — to bfloat16 and multiplies them with oneDNN's
/// AVX512_BF16 matmul, accumulating and writing fp32; attention, GELU, LayerNorm, pooling, the losses and
/// the optimiser stay fp32, and so do the master weights. Measured here on the model's products:
/// 352–374 GFLOP/s against 190 for fp32 sgemm (bench/bf16). Weights are rounded once and cached: whoever
/// changes weights in place (the optimisers' `step`) calls `weightsChanged()`.
public enum Precision: String, Codable, Sendable, CaseIterable {
    case fp32, bf16

    nonisolated(unsafe) public static var products: Precision = .fp32

    /// Switches the process to `precision`, loading oneDNN for bf16: one-line error when the library or
    /// the CPU's bf16 instructions are missing.
    public static func use(_ precision: Precision) throws {
        if precision == .bf16 {
            guard BF16Matmul.library != nil else {
                throw EmberError("--precision bf16 needs Debian's oneDNN: apt-get install libdnnl-dev (libdnnl.so.2 was not found)")
            }
            guard BLAS.cpuFlags().contains("avx512_bf16") else {
                throw EmberError("--precision bf16 needs a CPU with AVX512_BF16 instructions (this one has none)")
            }
        }
        products = precision
        BF16Linear.dropWeights()
    }

    /// Weights were updated in place: their cached bf16 copies are stale. Call between steps, never while
    /// a forward or backward runs.
    public static func weightsChanged() {
        BF16Linear.lock.lock(); defer { BF16Linear.lock.unlock() }
        BF16Linear.generation &+= 1
    }
}

/// A linear layer's three products with bf16 operands and fp32 accumulation (`BF16Matmul`): the forward
/// y = x·Wᵀ + b, and for training dx = dy·W and dW += dyᵀ·x. Master weights, biases and gradients stay
/// fp32; each product rounds its operands to bf16 (round to nearest even) on the way in.
enum BF16Linear {
    /// W rounded to bf16, cached by buffer address. A copy is re-rounded in place when
    /// `Precision.weightsChanged()` has been called since it was made, or when 16 sampled values differ
    /// (a buffer freed and reused by another model), so it is never served stale.
    struct CachedWeight { let values: UnsafeMutablePointer<UInt16>; let count: Int; var fingerprint: [Float]; var generation: Int }
    nonisolated(unsafe) static var weights: [UnsafeRawPointer: CachedWeight] = [:]
    nonisolated(unsafe) static var generation = 0
    static let lock = NSLock()

    static func dropWeights() {
        lock.lock(); defer { lock.unlock() }
        weights.values.forEach { $0.values.deallocate() }
        weights = [:]
    }

    static func fingerprint(_ w: UnsafePointer<Float>, count: Int) -> [Float] {
        (0..<16).map { w[$0 * (count - 1) / 15] }
    }

    static func weight(_ w: UnsafePointer<Float>, count: Int) -> UnsafeMutablePointer<UInt16> {
        lock.lock(); defer { lock.unlock() }
        let print = fingerprint(w, count: count)
        if var cached = weights[UnsafeRawPointer(w)], cached.count == count {
            if cached.generation != generation || cached.fingerprint != print {
                round(w, cached.values, count: count)
                cached.fingerprint = print; cached.generation = generation
                weights[UnsafeRawPointer(w)] = cached
            }
            return cached.values
        }
        weights[UnsafeRawPointer(w)]?.values.deallocate()
        let converted = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        round(w, converted, count: count)
        weights[UnsafeRawPointer(w)] = CachedWeight(values: converted, count: count, fingerprint: print, generation: generation)
        return converted
    }

    /// fp32 → bf16, round to nearest even (finite inputs; the model's activations and weights are checked finite).
    static func round(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<UInt32>.self)
            let r = (v &+ 0x7fff &+ ((v &>> 16) & 1)) &>> 16
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: r), as: SIMD16<UInt16>.self)
            i += 16
        }
        while i < count {
            let u = src[i].bitPattern
            dst[i] = UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
            i += 1
        }
    }

    static func forward(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let w = self.weight(weight, count: inFeatures * outFeatures)
        let xs = rounded(x, count: rows * inFeatures)
        defer { xs.deallocate() }
        // W [out × in] is Wᵀ [in × out] stored transposed.
        BF16Matmul.run(.init(m: rows, k: inFeatures, n: outFeatures, bTransposed: true, bias: true, varying: .m), a: xs, b: w, bias: bias, c: y)
    }

    /// dx = dy·W (overwrite, or += when `accumulate`) and dW += dyᵀ·x; the bias gradient is `Linear`'s.
    static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
                         weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                         dWeight: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let dys = rounded(dy, count: rows * outFeatures)
        defer { dys.deallocate() }
        if let dx {
            let w = self.weight(weight, count: inFeatures * outFeatures)
            BF16Matmul.run(.init(m: rows, k: outFeatures, n: inFeatures, accumulate: accumulate, varying: .m), a: dys, b: w, c: dx)
        }
        let xs = rounded(x, count: rows * inFeatures)
        defer { xs.deallocate() }
        // dyᵀ [out × rows] is dy [rows × out] stored transposed.
        BF16Matmul.run(.init(m: outFeatures, k: rows, n: inFeatures, aTransposed: true, accumulate: true, varying: .k), a: dys, b: xs, c: dWeight)
    }

    static func rounded(_ x: UnsafePointer<Float>, count: Int) -> UnsafeMutablePointer<UInt16> {
        let out = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        round(x, out, count: count)
        return out
    }
}
