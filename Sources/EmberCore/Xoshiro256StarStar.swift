// In EmberCore (not EmberTraining) because both the batch sampler and hard-negative mining draw from it.

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64 as its authors recommend: a small,
/// fast generator whose output is fixed by this code alone, so a seed reproduces a run on any
/// platform and Swift version.
public struct Xoshiro256StarStar: RandomNumberGenerator {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform integer in 0 ..< bound (bound > 0), by Lemire's multiply-and-reject method — unbiased,
    /// and defined here so the sequence does not depend on the standard library's choice.
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        var (high, low) = next().multipliedFullWidth(by: bound)
        if low < bound {
            let threshold = (0 &- bound) % bound
            while low < threshold { (high, low) = next().multipliedFullWidth(by: bound) }
        }
        return high
    }

    /// A uniform Float in [0, 1) from the top 24 bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}
