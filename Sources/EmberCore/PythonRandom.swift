import Foundation

/// CPython's `random.Random`, as far as `ember mine --sampling random` needs it: the Mersenne Twister
/// (MT19937) seeded from a non-negative integer as `random.seed(n)` seeds it, `getrandbits(k)` for
/// k ≤ 32, `_randbelow` and `sample(range(n), k)`.
///
/// Why: the reference's `mine_hard_negatives` draws its random negatives with the global `random`
/// module and has no seed argument; a user who called `random.seed(S)` first gets rows that `ember mine
/// --seed S` reproduces exactly, since the draw structure is the same (one `sample` per distinct anchor;
/// SEMANTICS.md §4, §12). Checked against CPython 3.11 (known answers in PythonRandomTests) and against
/// the reference's own random rows (MiningRandomParityTests).
public struct PythonRandom {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `random.seed(seed)` for an int: the key is |seed| as little-endian 32-bit words (one 0 word for 0),
    /// fed to MT19937's `init_by_array`.
    public init(seed: UInt64) {
        var key: [UInt32] = []
        var n = seed
        repeat { key.append(UInt32(truncatingIfNeeded: n)); n >>= 32 } while n > 0
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            let previous = state[i - 1] ^ (state[i - 1] >> 30)
            state[i] = (state[i] ^ (previous &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            let previous = state[i - 1] ^ (state[i - 1] >> 30)
            state[i] = (state[i] ^ (previous &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
        }
        state[0] = 0x8000_0000
        index = 624
    }

    private mutating func initGenrand(_ s: UInt32) {
        state[0] = s
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    /// MT19937's next tempered 32-bit word (`genrand_uint32`).
    public mutating func nextWord() -> UInt32 {
        if index >= 624 {
            for k in 0..<624 {
                let y = (state[k] & 0x8000_0000) | (state[(k + 1) % 624] & 0x7FFF_FFFF)
                state[k] = state[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
            }
            index = 0
        }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `getrandbits(k)`, 1 ≤ k ≤ 32: the word's top k bits.
    public mutating func getrandbits(_ k: Int) -> UInt32 {
        precondition(k >= 1 && k <= 32)
        return nextWord() >> UInt32(32 - k)
    }

    /// `_randbelow_with_getrandbits(n)`: n.bit_length() bits, redrawn until below n.
    public mutating func randbelow(_ n: Int) -> Int {
        precondition(n > 0 && n < (1 << 32))
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(getrandbits(k))
        while r >= n { r = Int(getrandbits(k)) }
        return r
    }

    /// `sample(range(n), k)`: CPython's two strategies, a shrinking pool when n is small against k and
    /// rejection of repeats otherwise, chosen by its own `setsize` rule so the draws match.
    public mutating func sample(_ n: Int, _ k: Int) -> [Int] {
        precondition(k >= 0 && k <= n)
        var setsize = 21
        if k > 5 { setsize += Int(pow(4.0, (log(Double(k * 3)) / log(4.0)).rounded(.up))) }
        var result: [Int] = []
        result.reserveCapacity(k)
        if n <= setsize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = randbelow(n - i)
                result.append(pool[j])
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for _ in 0..<k {
                var j = randbelow(n)
                while selected.contains(j) { j = randbelow(n) }
                selected.insert(j)
                result.append(j)
            }
        }
        return result
    }
}
