@testable import EmberCore
import EmberModel
import EmberTestSupport
import Foundation
import XCTest

/// `--precision bf16` (#10): linear products with bf16 operands through oneDNN. Not exact — the point is
/// speed — so the tests pin what it must still be: the documented rounding, a product equal to the exact
/// product of the rounded operands, and all-MiniLM-L6-v2 embeddings within 1e-4 cosine of fp32. This
/// machine kind has AVX512_BF16 and `make deps` installs oneDNN: under CI a missing one fails.
final class BF16PrecisionTests: XCTestCase {
    override func setUpWithError() throws {
        do { try Precision.use(.bf16) } catch {
            if MiniLMFolder.isCI(ProcessInfo.processInfo.environment) { throw error }
            throw XCTSkip("\(error)")
        }
    }

    override func tearDown() { try? Precision.use(.fp32) }

    func bf16(_ x: Float) -> UInt16 {
        var out: UInt16 = 0
        withUnsafePointer(to: x) { BF16Linear.round($0, &out, count: 1) }
        return out
    }

    func testRoundingToNearestEven() {
        XCTAssertEqual(bf16(1), 0x3F80)
        XCTAssertEqual(bf16(-2), 0xC000)
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F80_8000)), 0x3F80, "a tie rounds to the even mantissa (down)")
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F81_8000)), 0x3F82, "a tie rounds to the even mantissa (up)")
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F80_8001)), 0x3F81, "above the tie rounds up")
        // The vector path (16 at a time) and the scalar tail agree.
        let xs = (0..<37).map { Float($0) * 0.3137 - 5 }
        var out = [UInt16](repeating: 0, count: 37)
        BF16Linear.round(xs, &out, count: 37)
        XCTAssertEqual(out, xs.map(bf16))
    }

    func testProductEqualsTheExactProductOfRoundedOperands() {
        let rows = 37, inF = 48, outF = 20
        let x = (0..<(rows * inF)).map { Float(sin(Double($0) * 0.7)) }
        let w = (0..<(outF * inF)).map { Float(cos(Double($0) * 1.3)) * 0.2 }
        let b = (0..<outF).map { Float($0) * 0.01 }
        var y = [Float](repeating: .nan, count: rows * outF)
        Linear.forward(x, rows: rows, inFeatures: inF, outFeatures: outF, weight: w, bias: b, &y)
        func widen(_ v: Float) -> Double { Double(Float(bitPattern: UInt32(bf16(v)) << 16)) }
        var worst = 0.0, differsFromFP32 = false
        for r in 0..<rows {
            for o in 0..<outF {
                var exact = Double(b[o]), plain = Double(b[o])
                for k in 0..<inF {
                    exact += widen(x[r * inF + k]) * widen(w[o * inF + k])
                    plain += Double(x[r * inF + k]) * Double(w[o * inF + k])
                }
                worst = max(worst, abs(Double(y[r * outF + o]) - exact))
                if abs(Double(y[r * outF + o]) - plain) > 1e-4 { differsFromFP32 = true }
            }
        }
        XCTAssertLessThan(worst, 1e-5, "bf16 products accumulate in fp32")
        XCTAssertTrue(differsFromFP32, "the bf16 path must actually run (fp32 would match the unrounded product)")
    }

    func testMiniLMEmbeddingsStayWithinCosine1e4OfFP32() throws {
        let model = try SentenceModel(folder: try MiniLMFolder.require())
        let texts = ["A man is playing a guitar.", "How do I reset my password?", "The quick brown fox jumps over the lazy dog",
                     String(repeating: "long passage about embeddings and retrieval ", count: 12)]
        let half = model.encode(texts)
        try Precision.use(.fp32)
        let full = model.encode(texts)
        let D = model.embeddingDimension
        var differs = false
        for i in 0..<texts.count {
            var dot = 0.0, na = 0.0, nb = 0.0
            for d in 0..<D {
                let a = Double(half[i * D + d]), b = Double(full[i * D + d])
                dot += a * b; na += a * a; nb += b * b
                if a != b { differs = true }
            }
            XCTAssertGreaterThan(dot / (na * nb).squareRoot(), 0.9999, "text \(i)")
        }
        XCTAssertTrue(differs, "bf16 embeddings identical to fp32: the bf16 path did not run")
    }
}
