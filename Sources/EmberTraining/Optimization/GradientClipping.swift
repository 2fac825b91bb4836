import EmberCore

/// torch.nn.utils.clip_grad_norm_ with the L2 norm: the global norm of all gradients taken together,
/// ‖g‖ = sqrt(Σ g²), and when maxNorm / (‖g‖ + 1e-6) < 1 every gradient is multiplied by that
/// coefficient (torch clamps the coefficient at 1 and always multiplies; multiplying by 1 is a no-op,
/// so it is skipped here). Returns the norm before clipping, as torch does (HF logs it as grad_norm).
/// `maxNorm <= 0` disables clipping (`--max-grad-norm 0`) but the norm is still computed and returned.
/// Parameters without an allocated gradient are skipped, as torch skips `grad is None`. A non-finite
/// norm is returned as is (torch's default `error_if_nonfinite=False`); gradients then become NaN.
///
/// Squares are accumulated in Double: 22M Float32 squares summed in Float would lose ~3 digits.
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters where p.hasGrad { total += sumOfSquares(p.grad.pointer, p.count) }
    let norm = total.squareRoot()
    guard maxNorm > 0 else { return Float(norm) }
    let coefficient = Float(Double(maxNorm) / (norm + 1e-6))
    if coefficient < 1 {
        for p in parameters where p.hasGrad {
            let g = p.grad.pointer
            for i in 0..<p.count { g[i] *= coefficient }
        }
    }
    return Float(norm)
}

/// Σ x² in Double, eight Double lanes at a time.
func sumOfSquares(_ x: UnsafePointer<Float>, _ count: Int) -> Double {
    var a = SIMD8<Double>(), b = SIMD8<Double>()
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i + 16 <= count {
        let u = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        let w = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self))
        a = u * u + a
        b = w * w + b
        i += 16
    }
    var sum = 0.0
    let s = a + b
    for lane in 0..<8 { sum += s[lane] }
    while i < count { let d = Double(x[i]); sum += d * d; i += 1 }
    return sum
}
