/// GELU with the exact (erf) form BERT uses: gelu(x) = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)).
/// Loops are written out (not passed as closures) so the SIMD body is inlined into them.
public enum GELU {
    @inline(__always) static func cdf(_ v: Vector) -> Vector {
        Vector(repeating: 0.5) * (Vector(repeating: 1) + verf(v * Vector(repeating: 0.707_106_781_186_547_6)))
    }

    @inline(__always) static func gelu(_ v: Vector) -> Vector { v * cdf(v) }

    /// d gelu/dx = Φ(x) + x·φ(x), φ the standard normal density.
    @inline(__always) static func slope(_ v: Vector) -> Vector {
        cdf(v) + v * Vector(repeating: 0.398_942_280_401_432_7) * vexp(Vector(repeating: -0.5) * v * v)
    }

    /// y[i] = gelu(x[i]).
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        parallelChunks(count, minimumChunk: 1 << 16) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound { storeVector(gelu(loadVector(x + i)), y + i); i += 16 }
            if i < range.upperBound { store(gelu(load(x + i, range.upperBound - i)), y + i, range.upperBound - i) }
        }
    }

    /// dx[i] = dy[i] · gelu'(x[i]). Overwrites `dx`.
    public static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, count: Int) {
        parallelChunks(count, minimumChunk: 1 << 16) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound { storeVector(loadVector(dy + i) * slope(loadVector(x + i)), dx + i); i += 16 }
            let n = range.upperBound - i
            if n > 0 { store(load(dy + i, n) * slope(load(x + i, n)), dx + i, n) }
        }
    }
}
