import EmberCore
import Foundation

/// sentence-transformers' Pooling module over packed sequences. Every token of a packed sequence is a
/// real token (attention mask 1), special tokens included, exactly as the reference pools.
/// Several modes concatenate in the reference's order: cls, max, mean, mean_sqrt_len, weightedmean, lasttoken.
public struct Pooling: Sendable, Equatable {
    public enum Mode: String, CaseIterable, Sendable {
        case cls = "pooling_mode_cls_token"
        case max = "pooling_mode_max_tokens"
        case mean = "pooling_mode_mean_tokens"
        case meanSqrtLength = "pooling_mode_mean_sqrt_len_tokens"
        case weightedMean = "pooling_mode_weightedmean_tokens"
        case lastToken = "pooling_mode_lasttoken"
    }

    public let modes: [Mode]
    public let dimension: Int   // word_embedding_dimension

    public init(modes: [Mode], dimension: Int) {
        self.modes = Mode.allCases.filter(modes.contains)
        self.dimension = dimension
    }

    public var outputDimension: Int { modes.count * dimension }

    /// Reads `1_Pooling/config.json` (or the module's folder).
    public static func load(_ url: URL) throws -> Pooling {
        guard let data = FileManager.default.contents(atPath: url.path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EmberError("\(url.path): missing or invalid pooling config")
        }
        guard let dimension = (json["word_embedding_dimension"] as? NSNumber)?.intValue, dimension > 0 else {
            throw EmberError("\(url.path): missing word_embedding_dimension")
        }
        if let include = json["include_prompt"] as? Bool, include == false {
            throw EmberError("\(url.path): include_prompt false is not supported")
        }
        let modes = Mode.allCases.filter { (json[$0.rawValue] as? Bool) == true }
        guard !modes.isEmpty else { throw EmberError("\(url.path): no pooling mode is enabled") }
        return Pooling(modes: modes, dimension: dimension)
    }

    /// hidden: [T × H] packed; out: [N × outputDimension].
    public func forward(_ hidden: UnsafePointer<Float>, sequences: PackedSequences, _ out: UnsafeMutablePointer<Float>) {
        let H = dimension, D = outputDimension
        for s in 0..<sequences.count {
            let o = sequences.offsets[s], L = sequences.lengths[s]
            var column = 0
            for mode in modes {
                let dst = out + s * D + column
                column += H
                switch mode {
                case .cls:
                    dst.update(from: hidden + o * H, count: H)
                case .lastToken:
                    dst.update(from: hidden + (o + L - 1) * H, count: H)
                case .max:
                    dst.update(from: hidden + o * H, count: H)
                    for t in 1..<max(L, 1) {
                        let row = hidden + (o + t) * H
                        for j in 0..<H where row[j] > dst[j] { dst[j] = row[j] }
                    }
                case .mean, .meanSqrtLength, .weightedMean:
                    dst.update(repeating: 0, count: H)
                    for t in 0..<L {
                        let weight: Float = mode == .weightedMean ? Float(t + 1) : 1
                        Elementwise.addScaled(hidden + (o + t) * H, alpha: weight, into: dst, count: H)
                    }
                    Elementwise.scale(dst, by: 1 / max(divisor(mode, length: L), 1e-9), count: H)
                }
            }
        }
    }

    func divisor(_ mode: Mode, length L: Int) -> Float {
        switch mode {
        case .meanSqrtLength: return Float(L).squareRoot()
        case .weightedMean: return Float(L * (L + 1) / 2)
        default: return Float(L)
        }
    }

    /// Given dL/d(pooled) [N × outputDimension], accumulates dL/d(hidden) [T × H] (+=). `hidden` is the
    /// forward's input (max pooling routes the gradient to the arg-max token, first one on ties).
    public func backward(_ hidden: UnsafePointer<Float>, sequences: PackedSequences, dPooled: UnsafePointer<Float>,
                         dHidden: UnsafeMutablePointer<Float>) {
        let H = dimension, D = outputDimension
        for s in 0..<sequences.count {
            let o = sequences.offsets[s], L = sequences.lengths[s]
            for (m, mode) in modes.enumerated() {
                let d = dPooled + s * D + m * H
                switch mode {
                case .cls: Elementwise.addScaled(d, alpha: 1, into: dHidden + o * H, count: H)
                case .lastToken: Elementwise.addScaled(d, alpha: 1, into: dHidden + (o + L - 1) * H, count: H)
                case .max:
                    for j in 0..<H {
                        var best = 0
                        for t in 1..<max(L, 1) where hidden[(o + t) * H + j] > hidden[(o + best) * H + j] { best = t }
                        dHidden[(o + best) * H + j] += d[j]
                    }
                case .mean, .meanSqrtLength, .weightedMean:
                    let inverse = 1 / max(divisor(mode, length: L), 1e-9)
                    for t in 0..<L {
                        let weight: Float = mode == .weightedMean ? Float(t + 1) : 1
                        Elementwise.addScaled(d, alpha: weight * inverse, into: dHidden + (o + t) * H, count: H)
                    }
                }
            }
        }
    }
}

/// sentence-transformers' Normalize module: x / max(‖x‖₂, 1e-12) per row (torch's F.normalize).
public enum Normalize {
    public static func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        for r in 0..<rows {
            let row = x + r * dim
            let norm = Elementwise.dot(row, row, count: dim).squareRoot()
            Elementwise.scale(row, by: 1 / max(norm, 1e-12), count: dim)
        }
    }

    /// The first `dim` of each row's `fullDim` values (Matryoshka truncation), re-normalised unless told not to.
    public static func truncated(_ x: FloatBuffer, rows: Int, fullDim: Int, dim: Int, renormalize: Bool = true) -> FloatBuffer {
        let out = FloatBuffer(uninitializedCount: rows * dim)
        for r in 0..<rows { (out.pointer + r * dim).update(from: x.pointer + r * fullDim, count: dim) }
        if renormalize { forward(out.pointer, rows: rows, dim: dim) }
        return out
    }

    /// Given the un-normalised input x and dy, writes dx = (dy − y·⟨y, dy⟩)/‖x‖ (dy/‖x‖·… below eps).
    public static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                rows: Int, dim: Int) {
        for r in 0..<rows {
            let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
            let norm = Elementwise.dot(xr, xr, count: dim).squareRoot()
            if norm <= 1e-12 {
                for j in 0..<dim { dxr[j] = dyr[j] / 1e-12 }
                continue
            }
            let projection = Elementwise.dot(xr, dyr, count: dim) / (norm * norm)
            for j in 0..<dim { dxr[j] = (dyr[j] - xr[j] * projection) / norm }
        }
    }
}
