import CBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Debian's OpenBLAS, loaded at run time so Ember picks the kernel set itself.
///
/// OpenBLAS 0.3.21 does not recognise this machine's Xeon and falls back to its "Prescott" (SSE3)
/// kernels: 40–60 GFLOP/s instead of 200–300 with the SkylakeX kernels. It reads OPENBLAS_CORETYPE
/// only while the library initialises, so Ember never links it at build time: on first use it sets
/// OPENBLAS_CORETYPE from the CPU's features (unless the user set it), then `dlopen`s the library.
/// This works for the CLI and for any program that uses Ember as a library. `BLAS.coreName` reports
/// what OpenBLAS actually chose.
///
/// Threading scheme — one level at a time, never both: dense products (issued from one thread) run on
/// OpenBLAS's own threads, one per core; attention's many small per-(sequence, head) products run as
/// tasks on Ember's worker threads (`parallelFor`) with OpenBLAS held at one thread meanwhile
/// (`singleThreaded`); the elementwise kernels (GELU, LayerNorm, dropout) split rows over the same
/// worker threads between products. Measured here, the alternative — OpenBLAS always single-threaded
/// and Ember splitting each product into row blocks on its own threads — was 13% slower for encoding
/// and 20% slower for training (packing the shared operand twice, small M per block); it remains
/// available as `EMBER_GEMM_SPLIT=1` for other machines.
public enum BLAS {
    typealias SgemmFunction = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
        Float, UnsafePointer<Float>?, blasint, UnsafePointer<Float>?, blasint,
        Float, UnsafeMutablePointer<Float>?, blasint) -> Void
    typealias DgemmFunction = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
        Double, UnsafePointer<Double>?, blasint, UnsafePointer<Double>?, blasint,
        Double, UnsafeMutablePointer<Double>?, blasint) -> Void
    typealias SetThreadsFunction = @convention(c) (Int32) -> Void
    typealias GetThreadsFunction = @convention(c) () -> Int32
    typealias CoreNameFunction = @convention(c) () -> UnsafeMutablePointer<CChar>?

    struct Library: @unchecked Sendable {
        let sgemm: SgemmFunction
        let dgemm: DgemmFunction
        let setThreads: SetThreadsFunction?
        let getThreads: GetThreadsFunction?
        let coreName: CoreNameFunction?
    }

    /// The core type Ember asks for on this CPU, or nil to leave OpenBLAS's own detection alone.
    public static func preferredCoreType(cpuFlags: Set<String>) -> String? {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "Haswell" }
        return nil
    }

    static func cpuFlags() -> Set<String> {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            if text.hasPrefix("flags") {
                let value = text.split(separator: ":", maxSplits: 1).last ?? ""
                return Set(value.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
            }
        }
        return []
    }

    static let library: Library = {
        if getenv("OPENBLAS_CORETYPE") == nil, let core = preferredCoreType(cpuFlags: cpuFlags()) {
            setenv("OPENBLAS_CORETYPE", core, 0)
        }
        let names = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libblas.so.3"]
        var handle: UnsafeMutableRawPointer? = nil
        for name in names where handle == nil { handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL) }
        guard let handle, let sgemm = dlsym(handle, "cblas_sgemm") else {
            fatalError("Ember needs OpenBLAS: install Debian's libopenblas-dev (apt-get install libopenblas-dev)")
        }
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        let library = Library(
            sgemm: unsafeBitCast(sgemm, to: SgemmFunction.self),
            dgemm: unsafeBitCast(dlsym(handle, "cblas_dgemm")!, to: DgemmFunction.self),
            setThreads: symbol("openblas_set_num_threads", SetThreadsFunction.self),
            getThreads: symbol("openblas_get_num_threads", GetThreadsFunction.self),
            coreName: symbol("openblas_get_corename", CoreNameFunction.self))
        library.setThreads?(ProcessInfo.processInfo.environment["EMBER_GEMM_SPLIT"] == "1" ? 1 : Int32(ProcessInfoCores.count))
        return library
    }()

    /// The kernel set OpenBLAS runs ("SkylakeX" on this machine; "Prescott" means the slow fallback).
    public static var coreName: String {
        guard let name = library.coreName?() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's own thread count (cores, or 1 under `EMBER_GEMM_SPLIT=1`).
    public static var libraryThreads: Int { Int(library.getThreads?() ?? 1) }

    /// Worker threads Ember splits large products over when `splitProducts` is on (default: all cores).
    nonisolated(unsafe) public static var threads: Int = ProcessInfoCores.count

    /// `EMBER_GEMM_SPLIT=1`: split products over Ember's threads instead of OpenBLAS's (see above).
    nonisolated(unsafe) public static var splitProducts = ProcessInfo.processInfo.environment["EMBER_GEMM_SPLIT"] == "1"

    /// Runs `body` with OpenBLAS held at one thread (for products issued from several app threads).
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        let saved = libraryThreads
        if saved == 1 { return try body() }
        library.setThreads?(1)
        defer { library.setThreads?(Int32(saved)) }
        return try body()
    }

    /// Products with at least this many multiply-adds are split across `threads`.
    static let splitThreshold = 1 << 20

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major, with leading dimensions. `transA`/`transB`
    /// select Aᵀ/Bᵀ without materialising them.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool = true) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // C = beta·C; OpenBLAS handles k == 0, but be explicit.
            for row in 0..<m { for col in 0..<n { c[row * ldc + col] *= beta } }
            return
        }
        let workers = split && splitProducts ? min(threads, m * n * k / splitThreshold) : 1
        if workers <= 1 {
            library.sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                          blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                          beta, c, blasint(ldc))
            return
        }
        // Split C into `workers` blocks of rows (or of columns when C is wide), aligned to 16.
        let splitRows = m >= n
        let extent = splitRows ? m : n
        let step = ((extent + workers - 1) / workers + 15) / 16 * 16
        let blocks = (extent + step - 1) / step
        parallelFor(blocks) { block in
            let start = block * step, size = min(step, extent - start)
            if splitRows {
                // Row i of op(A) is row i of A, or column i of A when transposed.
                gemm(transA: transA, transB: transB, m: size, n: n, k: k, alpha: alpha,
                     a: a + (transA ? start : start * lda), lda: lda, b: b, ldb: ldb,
                     beta: beta, c: c + start * ldc, ldc: ldc, split: false)
            } else {
                gemm(transA: transA, transB: transB, m: m, n: size, k: k, alpha: alpha, a: a, lda: lda,
                     b: b + (transB ? start * ldb : start), ldb: ldb,
                     beta: beta, c: c + start, ldc: ldc, split: false)
            }
        }
    }

    /// Float64 C[m×n] = alpha · op(A) · op(B) + beta · C (row-major): the losses' similarity products,
    /// which run in double precision (scores up to scale·1 = 20–100 feed a log-sum-exp).
    public static func dgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
                             b: UnsafePointer<Double>, ldb: Int,
                             beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for row in 0..<m { for col in 0..<n { c[row * ldc + col] *= beta } }
            return
        }
        library.dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                      beta, c, blasint(ldc))
    }
}
