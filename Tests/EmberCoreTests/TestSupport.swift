import EmberCore
import Foundation
import XCTest

/// Deterministic pseudo-random floats for tests (SplitMix64), so failures reproduce.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    mutating func floats(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in float(scale) } }
}

func assertClose(_ a: [Float], _ b: [Double], rtol: Double, atol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    for i in 0..<min(a.count, b.count) where abs(Double(a[i]) - b[i]) > atol + rtol * abs(b[i]) {
        XCTFail("\(what)[\(i)]: \(a[i]) vs reference \(b[i])", file: file, line: line)
        return
    }
}

/// Central finite difference of a Double function along each coordinate.
func finiteDifference(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
    (0..<x.count).map { i in
        var plus = x, minus = x
        plus[i] += h; minus[i] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }
}
