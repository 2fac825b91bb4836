import ArgumentParser
import EmberCore
import Foundation

// Options and values several commands share.

/// Sizes on the command line: bytes, or a number with K, M, G or T (powers of 1024, an optional trailing
/// "B" or "iB": 512M, 1.5G, 2GiB).
enum ByteSize {
    static func parse(_ text: String, flag: String) throws -> Int {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count { digits.removeLast(suffix.count); break }
        let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024, "T": 1024 * 1024 * 1024 * 1024]
        var scale = 1.0
        if let last = digits.last, let unit = units[last] { scale = unit; digits.removeLast() }
        guard let value = Double(digits), value.isFinite, value >= 0, value * scale < 1e18 else {
            throw EmberError("\(flag) must be a size such as 512M or 2G (or bytes), got '\(text)'")
        }
        return Int(value * scale)
    }
}

/// `--precision fp32|bf16` (encode, evaluate, mine, bench, train).
struct PrecisionOption: ParsableArguments {
    @Option(name: .long, help: "Linear layers' products: fp32 (default; what the parity tests check) or bf16 (oneDNN on AVX512_BF16 CPUs: ≈ 1.8–1.9× faster encoding, embeddings within cosine 1e-4 of fp32; in training fp32 master weights, gradients and optimiser).")
    var precision: String = "fp32"

    /// Switches the process to the chosen precision (one-line error when oneDNN or the CPU lacks bf16).
    @discardableResult
    func apply() throws -> Precision {
        guard let p = Precision(rawValue: precision) else {
            throw EmberError("--precision must be fp32 or bf16, got '\(precision)'")
        }
        try Precision.use(p)
        return p
    }
}
