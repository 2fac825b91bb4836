import CMPI
import EmberCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's Open MPI (`libmpi.so.40`), loaded at run time like OpenBLAS and oneDNN: `ember` links nothing of
/// MPI, so a machine without Open MPI runs every command as before, and only a process that mpirun
/// started loads it. The calls are the C API's, typed through <mpi.h> (module CMPI).
///
/// Open MPI's predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM …) are macros over the addresses of
/// global objects (`&ompi_mpi_comm_world`), so they are looked up here by those objects' names.
/// The library is opened RTLD_GLOBAL: Open MPI's own plugins, which it dlopens in turn, resolve their
/// symbols against libmpi's.
struct OpenMPI: @unchecked Sendable {
    typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?,
                                           Int32, UnsafeMutablePointer<Int32>?) -> Int32
    typealias Finalize = @convention(c) () -> Int32
    typealias CommQuery = @convention(c) (MPI_Comm?, UnsafeMutablePointer<Int32>?) -> Int32
    typealias Allgatherv = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype?, UnsafeMutableRawPointer?,
                                           UnsafePointer<Int32>?, UnsafePointer<Int32>?, MPI_Datatype?, MPI_Comm?) -> Int32
    typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, MPI_Datatype?, MPI_Op?, MPI_Comm?) -> Int32
    typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, MPI_Datatype?, Int32, MPI_Comm?) -> Int32
    typealias Abort = @convention(c) (MPI_Comm?, Int32) -> Int32

    let initThread: InitThread, finalize: Finalize, commRank: CommQuery, commSize: CommQuery
    let allgatherv: Allgatherv, allreduce: Allreduce, bcast: Bcast, abort: Abort
    let world: MPI_Comm, float: MPI_Datatype, byte: MPI_Datatype, sum: MPI_Op

    /// The shared objects tried, newest ABI first.
    static let names = ["libmpi.so.40", "libmpi.so"]

    /// Opens Open MPI, or says in one line why not.
    static func load() throws -> OpenMPI {
        var handle: UnsafeMutableRawPointer? = nil
        for name in names where handle == nil { handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL) }
        guard let handle else {
            throw EmberError("this process was started by mpirun, but Open MPI's library (libmpi.so.40) cannot be loaded: install Debian's openmpi-bin and libopenmpi-dev")
        }
        func f<T>(_ name: String, _: T.Type) throws -> T {
            guard let symbol = dlsym(handle, name) else { throw EmberError("Open MPI's library has no \(name): Ember needs Open MPI 4 or later") }
            return unsafeBitCast(symbol, to: T.self)
        }
        func object<T>(_ name: String, _: T.Type) throws -> T {
            guard let symbol = dlsym(handle, name) else { throw EmberError("Open MPI's library has no \(name): Ember needs Open MPI 4 or later") }
            return unsafeBitCast(OpaquePointer(symbol), to: T.self)   // the handle is the object's address
        }
        return OpenMPI(initThread: try f("MPI_Init_thread", InitThread.self), finalize: try f("MPI_Finalize", Finalize.self),
                       commRank: try f("MPI_Comm_rank", CommQuery.self), commSize: try f("MPI_Comm_size", CommQuery.self),
                       allgatherv: try f("MPI_Allgatherv", Allgatherv.self), allreduce: try f("MPI_Allreduce", Allreduce.self),
                       bcast: try f("MPI_Bcast", Bcast.self), abort: try f("MPI_Abort", Abort.self),
                       world: try object("ompi_mpi_comm_world", MPI_Comm.self), float: try object("ompi_mpi_float", MPI_Datatype.self),
                       byte: try object("ompi_mpi_byte", MPI_Datatype.self), sum: try object("ompi_mpi_op_sum", MPI_Op.self))
    }

    /// A failed call. Open MPI's default error handler aborts the job before returning an error, so this
    /// is reached only if a user installed another handler through MCA parameters.
    func check(_ status: Int32, _ call: String) {
        if status != MPI_SUCCESS {
            StandardError.write("error: \(call) failed with MPI error \(status)\n")
            _ = abort(world, 1)
            exit(1)
        }
    }
}
