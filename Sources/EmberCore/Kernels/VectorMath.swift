/// SIMD16 building blocks for the elementwise kernels.
///
/// The standard library's SIMD comparisons, min/max and `.max()`/`.sum()` are scalarised on Linux (a
/// compare and branch per lane, swift-performance-notes.md), so selection here works on sign bits with
/// integer ops, and reductions fold halves (`lowHalf + highHalf`). exp and erf are polynomial
/// approximations (|relative error| ≲ 2e-7 for exp, |error| < 1.5e-7 for erf): accurate to float32 for
/// parity purposes and several times faster than libm's scalar calls.
public typealias Vector = SIMD16<Float>
public typealias VectorBits = SIMD16<Int32>

@inline(__always) func bits(_ v: Vector) -> VectorBits { unsafeBitCast(v, to: VectorBits.self) }
@inline(__always) func floats(_ v: VectorBits) -> Vector { unsafeBitCast(v, to: Vector.self) }

/// Lane-wise `condition ? a : b` where `mask` is all ones (true) or all zeros per lane.
@inline(__always) func select(_ mask: VectorBits, _ a: Vector, _ b: Vector) -> Vector {
    floats((bits(a) & mask) | (bits(b) & ~mask))
}

/// All ones in lanes where `v < 0` (sign bit set), else zero.
@inline(__always) func negativeMask(_ v: Vector) -> VectorBits { bits(v) &>> 31 }

@inline(__always) public func vmax(_ a: Vector, _ b: Vector) -> Vector { select(negativeMask(b - a), a, b) }
@inline(__always) public func vmin(_ a: Vector, _ b: Vector) -> Vector { select(negativeMask(a - b), a, b) }
@inline(__always) public func vabs(_ v: Vector) -> Vector { floats(bits(v) & VectorBits(repeating: 0x7fff_ffff)) }

/// Horizontal sum of 16 lanes.
@inline(__always) public func hsum(_ v: Vector) -> Float {
    let h8 = v.lowHalf + v.highHalf
    let h4 = h8.lowHalf + h8.highHalf
    let h2 = h4.lowHalf + h4.highHalf
    return h2[0] + h2[1]
}

/// Horizontal maximum of 16 lanes.
@inline(__always) public func hmax(_ v: Vector) -> Float {
    var m = v[0]
    for i in 1..<16 where v[i] > m { m = v[i] }
    return m
}

/// eˣ for every lane (inputs clamped to [-87, 88] so the result stays a normal float).
@inline(__always) public func vexp(_ input: Vector) -> Vector {
    let x = vmin(vmax(input, Vector(repeating: -87)), Vector(repeating: 88))
    let magic = Vector(repeating: 12_582_912)          // 1.5·2²³: adding it rounds to an integer
    let shifted = x * Vector(repeating: 1.442_695_04) + magic
    let n = shifted - magic
    let exponent = bits(shifted) &- bits(magic)         // n as an integer
    // r = x − n·ln2 in two parts (Cody–Waite) so r stays accurate for large |x|.
    let r = (x - n * Vector(repeating: 0.693_145_751_953_125)) - n * Vector(repeating: 1.428_606_765_330_187e-6)
    var p = Vector(repeating: 1.0 / 720)
    p = p * r + Vector(repeating: 1.0 / 120)
    p = p * r + Vector(repeating: 1.0 / 24)
    p = p * r + Vector(repeating: 1.0 / 6)
    p = p * r + Vector(repeating: 0.5)
    p = p * r + Vector(repeating: 1)
    p = p * r + Vector(repeating: 1)
    return p * floats((exponent &+ 127) &<< 23)
}

/// erf for every lane (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
@inline(__always) public func verf(_ x: Vector) -> Vector {
    let a = vabs(x)
    let t = Vector(repeating: 1) / (Vector(repeating: 1) + Vector(repeating: 0.327_591_1) * a)
    var p = Vector(repeating: 1.061_405_429)
    p = p * t + Vector(repeating: -1.453_152_027)
    p = p * t + Vector(repeating: 1.421_413_741)
    p = p * t + Vector(repeating: -0.284_496_736)
    p = p * t + Vector(repeating: 0.254_829_592)
    p = p * t
    let magnitude = Vector(repeating: 1) - p * vexp(-a * a)
    return floats(bits(magnitude) | (bits(x) & VectorBits(repeating: Int32(bitPattern: 0x8000_0000))))
}

/// Applies a lane-wise function to `count` floats, handling the tail through a padded vector so the
/// tail gets exactly the same arithmetic as the body.
@inline(__always)
func mapVectors(_ count: Int, _ body: (Int, Int) -> Void) {
    var i = 0
    while i + 16 <= count { body(i, 16); i += 16 }
    if i < count { body(i, count - i) }
}

@inline(__always) func load(_ p: UnsafePointer<Float>, _ n: Int) -> Vector {
    if n == 16 { return UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
    var v = Vector(repeating: 0)
    for j in 0..<n { v[j] = p[j] }
    return v
}

@inline(__always) func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    if n == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self); return }
    for j in 0..<n { p[j] = v[j] }
}

@inline(__always) func loadVector(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
@inline(__always) func storeVector(_ v: Vector, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self) }
