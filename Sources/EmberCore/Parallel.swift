#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Application-level parallelism: runs `body(i)` for i in 0..<count on all cores. Used for work that is
/// naturally split into independent, small pieces (attention per sequence and head, rows of
/// elementwise kernels); OpenBLAS is held at one thread meanwhile (see `BLAS`).
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || CoreWorkers.active { for i in 0..<count { body(i) }; return }
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
}

/// Splits 0..<count into about `chunks` contiguous ranges and runs them in parallel.
public func parallelChunks(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = CoreWorkers.active ? 1 : min(ProcessInfoCores.count, max(1, count / max(1, minimumChunk)))
    if workers <= 1 { body(0..<count); return }
    let step = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let start = w * step
        if start < count { body(start..<min(count, start + step)) }
    }
}

/// The cores this process may use: the machine's, shared equally among the ranks mpirun started on it
/// (OMPI_COMM_WORLD_LOCAL_SIZE), so that 2 ranks on 2 cores run one worker and one OpenBLAS thread each
/// instead of four threads fighting over two cores.
public enum ProcessInfoCores {
    public static let count: Int = {
        #if canImport(Glibc)
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let ranksHere = getenv("OMPI_COMM_WORLD_LOCAL_SIZE").flatMap { Int(String(cString: $0)) } ?? 1
        return max(1, cores / max(1, ranksHere))
        #else
        return 2
        #endif
    }()
}

/// Keeps freed large blocks in the process heap instead of returning them to the kernel (glibc's
/// mmap threshold and trim threshold raised to 1 GiB). Training allocates and frees the same
/// hundreds of megabytes of activations every step; with glibc's defaults each step page-faults them
/// in again (kernel zeroing shows up as system time). Peak memory is unchanged. And one heap for all
/// threads (M_ARENA_MAX 1): with glibc's per-thread arenas each worker kept its own freed blocks, which
/// the other worker could not reuse — cached GIST batch 128 peaked 117 MB higher in fp32 and 283 MB in
/// bf16, and ran no faster (22.6 vs 22.9 s, 13.8 vs 15.1 s for 8 steps). Called by the trainer, and by
/// `ember train` first thing, before any worker thread has allocated.
public func keepFreedMemoryForReuse() {
    #if canImport(Glibc)
    // mallopt is declared in <malloc.h>, which Swift's Glibc module does not export.
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(nil, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
    _ = mallopt(-3, 1 << 30)   // M_MMAP_THRESHOLD
    _ = mallopt(-1, 1 << 30)   // M_TRIM_THRESHOLD
    _ = mallopt(-8, 1)         // M_ARENA_MAX
    #endif
}

/// Returns the heap's free pages to the kernel (glibc `malloc_trim`). Training keeps freed blocks for the
/// next step (`keepFreedMemoryForReuse`); before a save, whose buffers do not fit the step's freed blocks,
/// that reserve only stacks the save on top: cached MNRL 128 in bf16 peaked at the final save, 1,206–1,216
/// MB against 1,107 MB during the steps. Costs one step's page faults after a checkpoint, nothing at the end.
public func releaseFreedMemory() {
    #if canImport(Glibc)
    typealias Trim = @convention(c) (Int) -> Int32
    guard let symbol = dlsym(nil, "malloc_trim") else { return }
    _ = unsafeBitCast(symbol, to: Trim.self)(0)
    #endif
}
