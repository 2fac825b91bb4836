/// Dropout whose masks come from a counter-based hash instead of a stateful RNG: element i of a stream
/// is kept iff hash(stream, i) ≥ p·2²⁴, and kept elements are scaled by 1/(1−p) (inverted dropout, as
/// torch). A stream is derived from (seed, step, column, row, layer, site[, head]) — see `DropoutStreams`
/// — so any forward pass over the same sequence reproduces the same mask bit for bit: GradCache's replay
/// (stage 3) and the backward pass regenerate masks instead of storing them, and masks do not depend on
/// how a batch is split into mini-batches.
public enum Dropout {
    /// x[i] *= keep(stream, i) / (1 − p) for i in 0..<count. Also the backward: apply it to the gradient.
    public static func apply(_ x: UnsafeMutablePointer<Float>, count: Int, probability p: Float, stream: UInt64) {
        if p <= 0 || count == 0 { return }
        let threshold = Int32(min(Float(1 << 24), (p * Float(1 << 24)).rounded()))
        let scale = VectorBits(repeating: Int32(bitPattern: (1 / (1 - p)).bitPattern))
        let keyLow = UInt32(truncatingIfNeeded: stream), keyHigh = UInt32(truncatingIfNeeded: stream >> 32)
        var i = 0
        let lanes = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        while i < count {
            let n = min(16, count - i)
            let h = hash(SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: i)) &+ lanes, keyLow, keyHigh)
            let uniform = VectorBits(truncatingIfNeeded: h &>> 8)               // 24 uniform bits
            let dropped = (uniform &- VectorBits(repeating: threshold)) &>> 31   // all ones where u < threshold
            let factor = floats(scale & ~dropped)
            store(load(x + i, n) * factor, x + i, n)
            i += 16
        }
    }

    /// Whether element `index` of `stream` is kept (for tests and documentation).
    public static func keeps(_ index: Int, probability p: Float, stream: UInt64) -> Bool {
        let h = hash(SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: index)),
                     UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))[0]
        return Int32(h >> 8) >= Int32(min(Float(1 << 24), (p * Float(1 << 24)).rounded()))
    }

    /// Two rounds of the "lowbias32" integer finaliser, keyed by the two halves of the stream id.
    @inline(__always) static func hash(_ counter: SIMD16<UInt32>, _ keyLow: UInt32, _ keyHigh: UInt32) -> SIMD16<UInt32> {
        var h = counter ^ SIMD16<UInt32>(repeating: keyLow)
        h = mix(h)
        h = h ^ SIMD16<UInt32>(repeating: keyHigh)
        return mix(mix(h))
    }

    @inline(__always) static func mix(_ value: SIMD16<UInt32>) -> SIMD16<UInt32> {
        var h = value
        h ^= h &>> 16
        h &*= SIMD16<UInt32>(repeating: 0x7feb_352d)
        h ^= h &>> 15
        h &*= SIMD16<UInt32>(repeating: 0x846c_a68b)
        h ^= h &>> 16
        return h
    }
}

/// Derives dropout stream ids. A sequence's key identifies it within a run (seed, step, column, row);
/// each dropout site of each layer then gets its own stream.
public enum DropoutStreams {
    public enum Site: UInt64 { case embeddings = 1, attentionProbabilities = 2, attentionOutput = 3, feedForwardOutput = 4 }

    public static func sequenceKey(seed: UInt64, step: Int, column: Int, row: Int) -> UInt64 {
        splitMix(splitMix(splitMix(seed ^ 0x4D59_5DF4_D0F3_3173) ^ UInt64(step)) ^ (UInt64(column) << 40 | UInt64(row)))
    }

    public static func stream(_ sequenceKey: UInt64, layer: Int, site: Site, head: Int = 0) -> UInt64 {
        splitMix(sequenceKey ^ (UInt64(layer) << 48 | site.rawValue << 40 | UInt64(head)))
    }

    @inline(__always) public static func splitMix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
