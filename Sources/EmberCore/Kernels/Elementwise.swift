/// Small elementwise helpers over flat buffers.
public enum Elementwise {
    /// out[i] = a[i] + b[i] (out may alias a or b).
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        mapVectors(count) { i, n in store(load(a + i, n) + load(b + i, n), out + i, n) }
    }

    /// y[i] += alpha · x[i].
    public static func addScaled(_ x: UnsafePointer<Float>, alpha: Float, into y: UnsafeMutablePointer<Float>, count: Int) {
        let s = Vector(repeating: alpha)
        mapVectors(count) { i, n in store(load(y + i, n) + s * load(x + i, n), y + i, n) }
    }

    /// x[i] *= alpha.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by alpha: Float, count: Int) {
        let s = Vector(repeating: alpha)
        mapVectors(count) { i, n in store(load(x + i, n) * s, x + i, n) }
    }

    /// Σ x[i]·y[i].
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var acc = Vector(repeating: 0)
        mapVectors(count) { i, n in acc += load(x + i, n) * load(y + i, n) }
        return hsum(acc)
    }
}
