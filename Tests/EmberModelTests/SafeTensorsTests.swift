import EmberCore
import EmberModel
import Foundation
import XCTest

final class SafeTensorsTests: XCTestCase {
    func testRoundTripIsExact() throws {
        var tensors: [String: Tensor] = [:]
        var seed: UInt32 = 7
        for (name, shape) in [("a.weight", [3, 5]), ("b", [7]), ("scalar", []), ("empty", [0, 4])] {
            let n = shape.reduce(1, *)
            let buffer = FloatBuffer(count: n)
            for i in 0..<n { seed = seed &* 1_664_525 &+ 1_013_904_223; buffer[i] = Float(bitPattern: seed & 0xBF7F_FFFF) }
            tensors[name] = Tensor(shape: shape, data: buffer)
        }
        let url = try temporaryFolder(self).appendingPathComponent("t.safetensors")
        try SafeTensors.write(tensors, to: url)
        let back = try SafeTensors.read(url)
        XCTAssertEqual(Set(back.keys), Set(tensors.keys))
        for (name, t) in tensors {
            XCTAssertEqual(back[name]!.shape, t.shape, name)
            XCTAssertEqual(back[name]!.data.array.map(\.bitPattern), t.data.array.map(\.bitPattern), name)
        }
    }

    func testReadsTinyBertCheckpoint() throws {
        let tensors = try SafeTensors.read(Paths.tinyBert.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(tensors["embeddings.word_embeddings.weight"]?.shape, [45, 32])
        XCTAssertEqual(tensors.count, 39)
    }

    /// Builds a safetensors image from a header object and raw data bytes.
    func image(_ header: Any, _ data: [UInt8]) throws -> Data {
        let json = try JSONSerialization.data(withJSONObject: header)
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(contentsOf: data)
        return out
    }

    func testWidensF16AndBF16() throws {
        // F16: 1.0, -2.0, 0.5, smallest subnormal 2⁻²⁴, +inf ; BF16: 1.0, -3.0
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x0001, 0x7C00]
        let bf16: [UInt16] = [0x3F80, 0xC040]
        let bytes = (f16 + bf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        let header: [String: Any] = [
            "h": ["dtype": "F16", "shape": [5], "data_offsets": [0, 10]],
            "b": ["dtype": "BF16", "shape": [1, 2], "data_offsets": [10, 14]],
            "__metadata__": ["format": "pt"]]
        let tensors = try SafeTensors.read(try image(header, bytes), name: "x")
        XCTAssertEqual(tensors["h"]!.data.array, [1, -2, 0.5, Float(sign: .plus, exponent: -24, significand: 1), .infinity])
        XCTAssertEqual(tensors["b"]!.data.array, [1, -3])
        XCTAssertEqual(tensors["b"]!.shape, [1, 2])
    }

    func expectError(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors.read(data, name: "bad.safetensors"), file: file, line: line) { error in
            let message = (error as? EmberError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains("bad.safetensors"), message, file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
        }
    }

    func testMalformedFilesAreClearErrors() throws {
        let ok: [String: Any] = ["x": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]]]
        let eight = [UInt8](repeating: 0, count: 8)
        expectError(Data([1, 2, 3]), "shorter than the 8-byte header length")
        expectError(Data([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), "exceeds")
        expectError(Data([200, 0, 0, 0, 0, 0, 0, 0]) + Data("{}".utf8), "runs past the end")
        expectError(Data([4, 0, 0, 0, 0, 0, 0, 0]) + Data("{no}".utf8), "not a JSON object")
        expectError(Data([2, 0, 0, 0, 0, 0, 0, 0]) + Data("[]".utf8), "not a JSON object")
        expectError(try image(["x": ["dtype": "Q4", "shape": [1], "data_offsets": [0, 8]]], eight), "unknown dtype Q4")
        expectError(try image(["x": ["dtype": "F32", "shape": [-2], "data_offsets": [0, 8]]], eight), "malformed shape")
        expectError(try image(["x": ["dtype": "F32", "shape": [2], "data_offsets": [8, 0]]], eight), "malformed data_offsets")
        expectError(try image(["x": ["dtype": "F32", "shape": [3], "data_offsets": [0, 8]]], eight), "8 bytes for shape [3]")
        expectError(try image(ok, [0, 0, 0, 0]), "truncated")
        expectError(try image(["x": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]],
                               "y": ["dtype": "F32", "shape": [1], "data_offsets": [4, 8]]], eight), "overlaps")
        expectError(try image(["x": ["dtype": "F32", "shape": [1], "data_offsets": [4, 8]]], eight), "gap")
        expectError(try image(ok, eight + [0, 0, 0, 0]), "trailing bytes")
        expectError(try image(["x": "F32"], eight), "not an object")
        // A real checkpoint cut short.
        let real = try Data(contentsOf: Paths.tinyBert.appendingPathComponent("model.safetensors"))
        expectError(real.prefix(real.count - 100), "truncated")
    }
}
