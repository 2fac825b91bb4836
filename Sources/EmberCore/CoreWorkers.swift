#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation

/// The second threading scheme: one independent job per core. Where work comes as independent pieces
/// (encoding batches, GradCache mini-batches), each core runs whole pieces by itself — single-threaded
/// OpenBLAS, serial elementwise kernels — instead of every product being split over both cores.
/// No thread waits for another between products (OpenBLAS's idle threads spin between calls; on small
/// products the split costs more than it gains), and the elementwise work, which does not scale with
/// OpenBLAS's threads, runs on both cores at once.
///
/// While `run` is active, `parallelFor`/`parallelChunks` run serially on the calling worker and OpenBLAS
/// is held at one thread; both are restored afterwards. Calls do not nest (a nested call runs serially).
public enum CoreWorkers {
    nonisolated(unsafe) static var active = false

    /// Worker threads `run` uses: the cores, or `EMBER_WORKERS` (1 turns the scheme off).
    nonisolated(unsafe) public static var count: Int = {
        if let v = ProcessInfo.processInfo.environment["EMBER_WORKERS"], let n = Int(v), n >= 1 { return n }
        return ProcessInfoCores.count
    }()

    /// Runs `body(worker)` for worker in 0..<workers concurrently, one per core, and waits for all.
    /// With one worker (or nested inside another `run`) it calls `body(0)` on this thread without changing
    /// the threading scheme.
    public static func run(workers: Int = count, _ body: (Int) -> Void) {
        if workers <= 1 || active { body(0); return }
        let saved = BLAS.libraryThreads
        BLAS.library.setThreads?(1)
        active = true
        defer {
            active = false
            BLAS.library.setThreads?(Int32(saved))
        }
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }

    /// Runs `body(item)` for every item in 0..<count, items handed out in order to whichever worker is
    /// free (for independent items whose results land in separate places).
    public static func forEach(_ count: Int, workers: Int = CoreWorkers.count, _ body: (Int) -> Void) {
        if count <= 1 || workers <= 1 { for i in 0..<count { body(i) }; return }
        var next = 0
        var lock = pthread_mutex_t()
        pthread_mutex_init(&lock, nil)
        defer { pthread_mutex_destroy(&lock) }
        run(workers: min(workers, count)) { _ in
            while true {
                pthread_mutex_lock(&lock)
                let item = next
                next += 1
                pthread_mutex_unlock(&lock)
                if item >= count { return }
                body(item)
            }
        }
    }
}
