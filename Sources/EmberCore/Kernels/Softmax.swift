/// Row-wise softmax, numerically stable (max subtracted).
public enum Softmax {
    /// In place over `rows` rows of `cols` values each, rows `stride` apart.
    public static func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int) {
        for row in 0..<rows {
            let p = x + row * stride
            var m = -Float.infinity
            var vm = Vector(repeating: -.infinity)
            var i = 0
            while i + 16 <= cols { vm = vmax(vm, load(p + i, 16)); i += 16 }
            m = hmax(vm)
            while i < cols { m = max(m, p[i]); i += 1 }
            var sum = Vector(repeating: 0)
            mapVectors(cols) { i, n in
                var e = vexp(load(p + i, n) - Vector(repeating: m))
                if n < 16 { for j in n..<16 { e[j] = 0 } }
                sum += e
                store(e, p + i, n)
            }
            let inv = Vector(repeating: 1 / hsum(sum))
            mapVectors(cols) { i, n in store(load(p + i, n) * inv, p + i, n) }
        }
    }

    /// Given probabilities y and dy, writes dx = y ⊙ (dy − ⟨dy, y⟩) per row (dx may alias dy).
    public static func backward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                rows: Int, cols: Int, stride: Int) {
        for row in 0..<rows {
            let yr = y + row * stride, dyr = dy + row * stride, dxr = dx + row * stride
            var dot = Vector(repeating: 0)
            mapVectors(cols) { i, n in dot += load(yr + i, n) * load(dyr + i, n) }
            let d = Vector(repeating: hsum(dot))
            mapVectors(cols) { i, n in store(load(yr + i, n) * (load(dyr + i, n) - d), dxr + i, n) }
        }
    }
}
