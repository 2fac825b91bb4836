/// LayerNorm over the last dimension: y = (x − μ)/√(σ² + ε) · γ + β, σ² the biased variance (as torch).
public enum LayerNorm {
    /// x, y: [rows × dim]. Saves μ and 1/√(σ²+ε) per row into `mean`/`rstd` for the backward.
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, dim: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        parallelChunks(rows, minimumChunk: 64) { range in
            for row in range {
                let xr = x + row * dim, yr = y + row * dim
                var sum = Vector(repeating: 0)
                mapVectors(dim) { i, n in sum += load(xr + i, n) }
                let mu = hsum(sum) / Float(dim)
                var sq = Vector(repeating: 0)
                mapVectors(dim) { i, n in
                    var d = load(xr + i, n) - Vector(repeating: mu)
                    if n < 16 { for j in n..<16 { d[j] = 0 } }
                    sq += d * d
                }
                let r = 1 / (hsum(sq) / Float(dim) + eps).squareRoot()
                mean[row] = mu; rstd[row] = r
                mapVectors(dim) { i, n in
                    let xhat = (load(xr + i, n) - Vector(repeating: mu)) * Vector(repeating: r)
                    store(xhat * load(gamma + i, n) + load(beta + i, n), yr + i, n)
                }
            }
        }
    }

    /// Given dy, writes dx (overwrite) and accumulates dγ += Σ dy·x̂, dβ += Σ dy.
    /// dx = r·(dy·γ − mean(dy·γ) − x̂·mean(dy·γ·x̂)).
    public static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                rows: Int, dim: Int, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>) {
        // Row-parallel for dx; parameter gradients reduced per chunk, then summed (deterministic order).
        let workers = min(ProcessInfoCores.count, max(1, rows / 64))
        let partial = FloatBuffer(count: workers * 2 * dim)
        let step = (rows + workers - 1) / workers
        parallelFor(workers) { w in
            let start = w * step, end = min(rows, start + step)
            let pg = partial.pointer + w * 2 * dim, pb = pg + dim
            if start >= end { return }
            for row in start..<end {
                let xr = x + row * dim, dyr = dy + row * dim, dxr = dx + row * dim
                let mu = Vector(repeating: mean[row]), r = Vector(repeating: rstd[row])
                var sumG = Vector(repeating: 0), sumGX = Vector(repeating: 0)
                mapVectors(dim) { i, n in
                    let xhat = (load(xr + i, n) - mu) * r
                    let d = load(dyr + i, n)
                    let g = d * load(gamma + i, n)
                    sumG += g; sumGX += g * xhat
                    store(load(pg + i, n) + d * xhat, pg + i, n)
                    store(load(pb + i, n) + d, pb + i, n)
                }
                // Tail lanes of the padded loads are zero (dy and gamma loads pad with 0).
                let meanG = Vector(repeating: hsum(sumG) / Float(dim))
                let meanGX = Vector(repeating: hsum(sumGX) / Float(dim))
                mapVectors(dim) { i, n in
                    let xhat = (load(xr + i, n) - mu) * r
                    let g = load(dyr + i, n) * load(gamma + i, n)
                    store(r * (g - meanG - xhat * meanGX), dxr + i, n)
                }
            }
        }
        for w in 0..<workers {
            let pg = partial.pointer + w * 2 * dim
            for i in 0..<dim { dGamma[i] += pg[i]; dBeta[i] += pg[dim + i] }
        }
    }
}
