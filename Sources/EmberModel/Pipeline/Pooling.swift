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
    /// `include_prompt`: whether prompt tokens are pooled. When false, the caller passes the prompt's
    /// length to `forward(…, excludingLeading:)` and those leading tokens are masked, as the reference does.
    public let includePrompt: Bool

    public init(modes: [Mode], dimension: Int, includePrompt: Bool = true) {
        self.modes = Mode.allCases.filter(modes.contains)
        self.dimension = dimension
        self.includePrompt = includePrompt
    }

    public var outputDimension: Int { modes.count * dimension }

    /// The names sentence-transformers ≥ 5.4 writes in `pooling_mode` (a string, or a list for several).
    static let modeNames: [String: Mode] = ["cls": .cls, "max": .max, "mean": .mean, "mean_sqrt_len_tokens": .meanSqrtLength,
                                            "weightedmean": .weightedMean, "lasttoken": .lastToken]

    /// Reads `1_Pooling/config.json` in either spelling (spec §10.4): v2–v5.3
    /// `{"word_embedding_dimension": H, "pooling_mode_mean_tokens": true, …}` or v5.4+/6.x
    /// `{"embedding_dimension": H, "pooling_mode": "mean"}` (or a list of modes). Every field is
    /// type-checked; an unknown mode is refused by name.
    public static func load(_ url: URL) throws -> Pooling {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EmberError("\(url.path): missing pooling config")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EmberError("\(url.path): not a JSON object")
        }
        func integer(_ key: String) throws -> Int? {
            guard let value = json[key] else { return nil }
            guard let i = JSONField.integer(value), i > 0, i <= 1 << 20 else {
                throw EmberError("\(url.path): \(key) must be a positive integer, got \(value)")
            }
            return i
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            guard let flag = JSONField.boolean(value) else {
                throw EmberError("\(url.path): \(key) must be true or false, got \(value)")
            }
            return flag
        }
        guard let dimension = try integer("embedding_dimension") ?? integer("word_embedding_dimension") else {
            throw EmberError("\(url.path): missing embedding_dimension (or word_embedding_dimension)")
        }
        var modes: [Mode] = []
        if let value = json["pooling_mode"], !(value is NSNull) {
            guard let names = (value as? [Any] ?? [value]) as? [String], !names.isEmpty else {
                throw EmberError("\(url.path): pooling_mode must be a mode name or a list of them, got \(value)")
            }
            for name in names {
                guard let mode = modeNames[name] else {
                    throw EmberError("\(url.path): unsupported pooling_mode '\(name)' (Ember supports \(modeNames.keys.sorted().joined(separator: ", ")))")
                }
                modes.append(mode)
            }
        } else {
            for mode in Mode.allCases where try flag(mode.rawValue) == true { modes.append(mode) }
        }
        guard !modes.isEmpty else { throw EmberError("\(url.path): no pooling mode is enabled") }
        return Pooling(modes: modes, dimension: dimension, includePrompt: try flag("include_prompt") ?? true)
    }

    /// hidden: [T × H] packed; out: [N × outputDimension]. `skip` leading tokens of every sequence are
    /// masked out as the reference's Pooling masks `attention_mask[:, :prompt_length]` when include_prompt is
    /// false: mean-type and max modes ignore them (weightedmean keeps the positional weights t+1; an
    /// all-masked max is -1e9 as in v3–v5, 6.x gives -inf). cls and lasttoken with a skip are refused by
    /// the model layer (`SentenceModel.promptLength`), so they never see one here; `backward` takes the same skip.
    public func forward(_ hidden: UnsafePointer<Float>, sequences: PackedSequences, _ out: UnsafeMutablePointer<Float>,
                        excludingLeading skip: Int = 0) {
        let H = dimension, D = outputDimension
        for s in 0..<sequences.count {
            let o = sequences.offsets[s], L = sequences.lengths[s]
            let first = min(max(skip, 0), L)
            var column = 0
            for mode in modes {
                let dst = out + s * D + column
                column += H
                switch mode {
                case .cls:
                    dst.update(from: hidden + o * H, count: H)
                case .lastToken:
                    dst.update(from: hidden + (o + L - 1) * H, count: H)
                case .max where first == 0:
                    dst.update(from: hidden + o * H, count: H)
                    for t in 1..<max(L, 1) {
                        let row = hidden + (o + t) * H
                        for j in 0..<H where row[j] > dst[j] { dst[j] = row[j] }
                    }
                case .max:
                    // The reference fills masked tokens with -1e9 before the max: an all-masked sequence gives -1e9.
                    dst.update(repeating: -1e9, count: H)
                    for t in first..<L {
                        let row = hidden + (o + t) * H
                        for j in 0..<H where row[j] > dst[j] { dst[j] = row[j] }
                    }
                case .mean, .meanSqrtLength, .weightedMean:
                    dst.update(repeating: 0, count: H)
                    for t in first..<L {
                        let weight: Float = mode == .weightedMean ? Float(t + 1) : 1
                        Elementwise.addScaled(hidden + (o + t) * H, alpha: weight, into: dst, count: H)
                    }
                    Elementwise.scale(dst, by: 1 / max(divisor(mode, length: L, skip: first), 1e-9), count: H)
                }
            }
        }
    }

    /// The mask's sum (weighted for weightedmean) over tokens skip..<L.
    func divisor(_ mode: Mode, length L: Int, skip: Int = 0) -> Float {
        switch mode {
        case .meanSqrtLength: return Float(L - skip).squareRoot()
        case .weightedMean: return Float(L * (L + 1) / 2 - skip * (skip + 1) / 2)
        default: return Float(L - skip)
        }
    }

    /// Given dL/d(pooled) [N × outputDimension], accumulates dL/d(hidden) [T × H] (+=). `hidden` is the
    /// forward's input (max pooling routes the gradient to the arg-max token, first one on ties); `skip` is
    /// the forward's: masked leading tokens get no gradient from mean-type or max modes.
    public func backward(_ hidden: UnsafePointer<Float>, sequences: PackedSequences, dPooled: UnsafePointer<Float>,
                         dHidden: UnsafeMutablePointer<Float>, excludingLeading skip: Int = 0) {
        let H = dimension, D = outputDimension
        for s in 0..<sequences.count {
            let o = sequences.offsets[s], L = sequences.lengths[s]
            let first = min(max(skip, 0), L)
            for (m, mode) in modes.enumerated() {
                let d = dPooled + s * D + m * H
                switch mode {
                case .cls: Elementwise.addScaled(d, alpha: 1, into: dHidden + o * H, count: H)
                case .lastToken: Elementwise.addScaled(d, alpha: 1, into: dHidden + (o + L - 1) * H, count: H)
                case .max:
                    guard first < L else { continue }   // all masked: the output is a constant
                    for j in 0..<H {
                        var best = first
                        for t in (first + 1)..<max(L, first + 1) where hidden[(o + t) * H + j] > hidden[(o + best) * H + j] { best = t }
                        dHidden[(o + best) * H + j] += d[j]
                    }
                case .mean, .meanSqrtLength, .weightedMean:
                    let inverse = 1 / max(divisor(mode, length: L, skip: first), 1e-9)
                    for t in first..<L {
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
