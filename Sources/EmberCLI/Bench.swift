import ArgumentParser
import EmberCore
import EmberModel
import Foundation

/// `ember bench encode`: throughput and peak memory of the encode path, measured the way
/// bench/encode_reference.py measures sentence-transformers (model loaded, one warm-up batch, best
/// of `--runs` full passes, peak RSS of the process). Prints one JSON line.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (print JSON; see bench/encode.sh for the side-by-side table).",
        subcommands: [BenchEncode.self])
}

struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encode", abstract: "Encode throughput and peak RSS.")

    @OptionGroup var source: ModelInput

    @Option(name: .long, help: "Texts per forward pass.")
    var batchSize: Int = 32

    @Option(name: .long, help: "Timed passes over the input (best is reported).")
    var runs: Int = 2

    func run() throws {
        let model = try source.loadModel()
        let texts = try source.loadTexts()
        let tokens = texts.reduce(0) { $0 + model.tokenize($1).count }
        _ = model.encode(Array(texts.prefix(batchSize)), batchSize: batchSize)   // warm-up
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = model.encode(texts, batchSize: batchSize)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        Profiler.report()
        let best = times.min()!
        let report: [String: Any] = [
            "impl": "ember", "n_texts": texts.count, "n_tokens": tokens, "batch_size": batchSize,
            "runs_s": times.map { ($0 * 1000).rounded() / 1000 }, "best_s": (best * 1000).rounded() / 1000,
            "sentences_per_s": (Double(texts.count) / best * 10).rounded() / 10,
            "tokens_per_s": (Double(tokens) / best).rounded(),
            "peak_rss_mb": (peakResidentMegabytes() * 10).rounded() / 10,
            "blas_core": BLAS.coreName, "threads": BLAS.threads,
        ]
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}

/// Peak resident set size of this process in MiB (getrusage's ru_maxrss is in KiB on Linux).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
