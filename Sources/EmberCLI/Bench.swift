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
        subcommands: [BenchEncode.self, BenchSgemm.self, BenchMPI.self])
}

struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encode", abstract: "Encode throughput and peak RSS.")

    @OptionGroup var source: ModelInput
    @OptionGroup var precisionOption: PrecisionOption

    @Option(name: .long, help: "Texts per forward pass.")
    var batchSize: Int = 32

    @Option(name: .long, help: "Timed passes over the input (best is reported).")
    var runs: Int = 2

    func run() throws {
        try precisionOption.apply()
        let model = try source.loadModel()
        let texts = try source.loadTexts()
        let lengths = texts.map { model.tokenize($0).count }
        let tokens = lengths.reduce(0, +)
        let flops = model.config.forwardFlops(lengths: lengths)
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
            "gflop_per_pass": (flops / 1e6).rounded() / 1000, "gflops_per_s": (flops / best / 1e8).rounded() / 10,
            "blas_core": BLAS.coreName, "threads": BLAS.threads, "workers": CoreWorkers.count, "precision": Precision.products.rawValue,
        ]
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}

/// `ember bench sgemm`: the machine's fp32 matrix-product ceiling over one training step's shapes — every
/// product of all-MiniLM-L6-v2's linear layers (forward, dX and dW) at T = 2048 and 512 tokens — the
/// denominator of "achieved GFLOP/s" in bench/perf.sh. Two schemes: OpenBLAS's own threads on one
/// product at a time, and one product per core (`CoreWorkers`, single-threaded OpenBLAS each). Prints one
/// JSON line; `ceiling_gflops` is the better of the two.
struct BenchSgemm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "fp32 sgemm ceiling on the model's shapes.")

    @Option(name: .long, help: "Timed repetitions of the whole shape list (best is reported).") var runs: Int = 3

    struct Shape { let transA: Bool, transB: Bool, m: Int, n: Int, k: Int }

    static let shapes: [Shape] = [2048, 512].flatMap { T in
        [(384, 1152), (384, 384), (384, 1536), (1536, 384)].flatMap { (inF, outF) in [
            Shape(transA: false, transB: true, m: T, n: outF, k: inF),     // y = x·Wᵀ
            Shape(transA: false, transB: false, m: T, n: inF, k: outF),    // dx = dy·W
            Shape(transA: true, transB: false, m: outF, n: inF, k: T),     // dW = dyᵀ·x
        ] }
    }

    final class Operands {
        let a, b, c: FloatBuffer
        init() {
            let size = 2048 * 1536
            a = FloatBuffer(count: size); b = FloatBuffer(count: size); c = FloatBuffer(count: size)
            for i in 0..<size { a[i] = Float(i % 97) / 97 - 0.5; b[i] = Float(i % 89) / 89 - 0.5 }
        }
        func runAll() {
            for s in BenchSgemm.shapes {
                let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
                BLAS.gemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, a: a.pointer, lda: lda,
                          b: b.pointer, ldb: ldb, beta: 0, c: c.pointer, ldc: s.n, split: false)
            }
        }
    }

    func run() throws {
        let flops = Double(Self.shapes.reduce(0) { $0 + 2 * $1.m * $1.n * $1.k })
        func best(_ body: () -> Void) -> Double {
            body()   // warm-up
            var times: [Double] = []
            for _ in 0..<max(1, runs) {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return times.min()!
        }
        let workers = CoreWorkers.count
        let operands = (0..<workers).map { _ in Operands() }
        let threaded = flops / best { operands[0].runAll() } / 1e9
        let single = BLAS.singleThreaded { flops / best { operands[0].runAll() } / 1e9 }
        let perCore = Double(workers) * flops / best { CoreWorkers.run(workers: workers) { operands[$0].runAll() } } / 1e9
        func r(_ x: Double) -> Double { (x * 10).rounded() / 10 }
        let report: [String: Any] = [
            "blas_core": BLAS.coreName, "cores": ProcessInfoCores.count, "gflop_per_pass": r(flops / 1e9),
            "openblas_threads_gflops": r(threaded), "one_thread_gflops": r(single), "per_core_gflops": r(perCore),
            "ceiling_gflops": r(max(threaded, perCore)),
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
