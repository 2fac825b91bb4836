import CMPI
import EmberCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The processes of one training job and the few collectives data-parallel training needs: all-gather of
/// float rows (embeddings), all-reduce of the gradients, broadcast, and an agreement on failures.
/// A process that mpirun did not start is a world of one (`Communicator.single`): every collective is a
/// copy and no MPI function is called, so Ember run by hand behaves exactly as it always did.
///
/// Collectives are called from one thread (the trainer's); the worker threads never call MPI, which is
/// what MPI_THREAD_FUNNELED promises.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    let mpi: OpenMPI?
    private var finalized = false

    /// The world of one: rank 0 of 1.
    public static let single = Communicator(rank: 0, size: 1, mpi: nil)

    /// The communicator MPI was initialised with in this process, if any (the CLI's error path uses it to
    /// end the whole job).
    nonisolated(unsafe) public private(set) static var active: Communicator?

    init(rank: Int, size: Int, mpi: OpenMPI?) {
        self.rank = rank
        self.size = size
        self.mpi = mpi
    }

    /// Whether mpirun started this process: Open MPI's launcher sets OMPI_COMM_WORLD_SIZE in every rank's
    /// environment (and OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_LOCAL_SIZE).
    public static var launchedByMPIRun: Bool { getenv("OMPI_COMM_WORLD_SIZE") != nil }

    /// The rank mpirun gave this process, read from its environment (before MPI is initialised).
    public static var launchRank: Int? { getenv("OMPI_COMM_WORLD_RANK").flatMap { Int(String(cString: $0)) } }

    /// A variable other launchers set when they start several processes (MPICH's and Intel MPI's mpiexec:
    /// PMI_SIZE; Slurm's srun: SLURM_STEP_NUM_TASKS), with its value, when it says more than one.
    public static var otherLauncher: String? {
        for name in ["PMI_SIZE", "SLURM_STEP_NUM_TASKS"] {
            if let value = getenv(name).map({ String(cString: $0) }), let n = Int(value), n > 1 { return "\(name)=\(value)" }
        }
        return nil
    }

    /// This process's world: under mpirun, MPI loaded and initialised (once); otherwise `.single`.
    /// Several processes started by another launcher are refused: each would train alone and write the
    /// same files.
    public static func world() throws -> Communicator {
        if let active { return active }
        guard launchedByMPIRun else {
            if let variable = otherLauncher {
                throw EmberError("this process is one of several (\(variable)) started by a launcher other than Open MPI's mpirun; Ember trains data-parallel only under Open MPI's mpirun (mpirun -np N ember train …)")
            }
            return .single
        }
        let mpi = try OpenMPI.load()
        var provided: Int32 = 0
        mpi.check(mpi.initThread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        // Ember's worker threads run beside the one thread that calls MPI: that is MPI_THREAD_FUNNELED.
        guard provided >= Int32(MPI_THREAD_FUNNELED) else {
            _ = mpi.finalize()
            throw EmberError("Open MPI provides thread level \(provided), below MPI_THREAD_FUNNELED, which Ember's worker threads need")
        }
        var rank: Int32 = 0, size: Int32 = 0
        mpi.check(mpi.commRank(mpi.world, &rank), "MPI_Comm_rank")
        mpi.check(mpi.commSize(mpi.world, &size), "MPI_Comm_size")
        let world = Communicator(rank: Int(rank), size: Int(size), mpi: mpi)
        active = world
        return world
    }

    /// The rows of `count` that rank `r` (default: this one) handles: contiguous, in rank order, sizes
    /// differing by at most one (rank r gets ⌊count·r/N⌋ ..< ⌊count·(r+1)/N⌋).
    public func shard(_ count: Int, rank r: Int? = nil) -> Range<Int> {
        let r = r ?? rank
        return (count * r / size)..<(count * (r + 1) / size)
    }

    /// Every rank's `local` values concatenated in rank order; rank r contributes `counts[r]` values.
    public func allGather(_ local: [Float], counts: [Int]) -> [Float] {
        precondition(counts.count == size && counts[rank] == local.count, "allGather: counts do not match")
        guard let mpi, size > 1 else { return local }
        return allGatherV(mpi, local, counts: counts, type: mpi.float)
    }

    /// Every rank's `local` bytes, indexed by rank (each rank passes the same number of bytes).
    public func allGather(bytes local: [UInt8]) -> [[UInt8]] {
        guard let mpi, size > 1 else { return [local] }
        let out = allGatherV(mpi, local, counts: [Int](repeating: local.count, count: size), type: mpi.byte)
        return (0..<size).map { Array(out[($0 * local.count)..<(($0 + 1) * local.count)]) }
    }

    /// MPI_Allgatherv of `local` (counts[r] elements of `type` from rank r) into one array in rank order.
    private func allGatherV<T: Numeric>(_ mpi: OpenMPI, _ local: [T], counts: [Int], type: MPI_Datatype) -> [T] {
        var displacements = [Int32](), offset = 0
        for c in counts { displacements.append(Int32(offset)); offset += c }
        precondition(offset <= Int(Int32.max), "allGather: more than 2³¹ values")
        var out = [T](repeating: 0, count: offset)
        let counts32 = counts.map { Int32($0) }
        local.withUnsafeBytes { send in
            out.withUnsafeMutableBytes { receive in
                // An empty send buffer still needs a non-null address.
                mpi.check(mpi.allgatherv(send.baseAddress ?? UnsafeRawPointer(bitPattern: 8), Int32(local.count), type,
                                         receive.baseAddress, counts32, displacements, type, mpi.world), "MPI_Allgatherv")
            }
        }
        return out
    }

    /// Sums `count` floats at `buffer` over all ranks, in place: afterwards every rank holds the same sum.
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        guard let mpi, size > 1 else { return }
        let chunk = 1 << 30
        for start in stride(from: 0, to: count, by: chunk) {
            mpi.check(mpi.allreduce(UnsafeRawPointer(bitPattern: 1) /* MPI_IN_PLACE */, buffer + start, Int32(min(chunk, count - start)),
                                    mpi.float, mpi.sum, mpi.world), "MPI_Allreduce")
        }
    }

    /// Rank `root`'s `bytes`, on every rank (the others' argument is ignored).
    public func broadcast(_ bytes: [UInt8], from root: Int) -> [UInt8] {
        guard let mpi, size > 1 else { return bytes }
        var length = [Int32(rank == root ? bytes.count : 0)]
        length.withUnsafeMutableBytes { mpi.check(mpi.bcast($0.baseAddress, 4, mpi.byte, Int32(root), mpi.world), "MPI_Bcast") }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        if length[0] > 0 {
            out.withUnsafeMutableBytes { mpi.check(mpi.bcast($0.baseAddress, length[0], mpi.byte, Int32(root), mpi.world), "MPI_Bcast") }
        }
        return out
    }

    /// Collective: each rank says whether it failed (its message) or not (nil). Returns the lowest failing
    /// rank and its message, the same on every rank, or nil when none failed.
    public func firstFailure(_ message: String?) -> (rank: Int, message: String)? {
        guard size > 1 else { return message.map { (0, $0) } }
        let flags = allGather(bytes: [message == nil ? 0 : 1])
        guard let failed = flags.firstIndex(where: { $0[0] != 0 }) else { return nil }
        let text = broadcast(Array((message ?? "").utf8), from: failed)
        return (failed, String(decoding: text, as: UTF8.self))
    }

    /// Ends every rank of the job with `code` (mpirun kills the others and exits non-zero). In a world of
    /// one, exits this process.
    public func abort(code: Int32 = 1) -> Never {
        if let mpi { _ = mpi.abort(mpi.world, code) }
        exit(code)
    }

    /// Leaves MPI (collective: returns once every rank has called it or the job was aborted).
    public func finalize() {
        guard let mpi, !finalized else { return }
        finalized = true
        _ = mpi.finalize()
    }
}
