import EmberCore
import EmberMPI
import Foundation

/// `ember train` as one rank of an mpirun job (cli.md, "ember train under mpirun"): how the ranks end.
///
/// Every rank reads the same files and builds the same trainer; only rank 0 writes files and prints.
/// The danger in a job of N processes is a rank waiting forever in a collective for one that gave up,
/// so every way out is collective or ends the whole job:
/// - **Setup** (flags, files, model, resume — everything before the first step): the ranks agree when
///   it is done (`setupSucceeded`). If any rank failed, the lowest failing rank's error is printed once,
///   by rank 0 (naming the rank when it is not 0), and every rank exits 1 in order.
/// - **Training**: an error every rank raises at the same point (`EmberError.sameOnEveryRank`: a
///   non-finite loss, diverged ranks) is printed by rank 0 and every rank exits 1 in order. Any other
///   error is one rank's (a full disk on rank 0, say): that rank prints it and aborts the job, and
///   mpirun ends the others (MPI_Abort) — as it does when a rank is killed.
final class RankedJob {
    let world: Communicator
    private(set) var agreed = false

    init(world: Communicator) { self.world = world }

    var isRoot: Bool { world.rank == 0 }

    /// Another rank's setup failed: (rank, its message).
    struct SetupFailure: Error { let rank: Int; let message: String }

    /// Collective: this rank's setup is done; throws `SetupFailure` if another rank's failed, and an error
    /// on every rank if the ranks' `fingerprint`s (Trainer.runFingerprint) differ.
    func setupSucceeded(fingerprint: [UInt8]) throws {
        if let failure = world.firstFailure(nil) { throw SetupFailure(rank: failure.rank, message: failure.message) }
        let prints = world.allGather(bytes: fingerprint)
        if let other = prints.firstIndex(where: { $0 != prints[0] }) {
            throw EmberError("rank \(other) was started with other flags, files or weights than rank 0: every rank must run the same ember train command on the same files")
        }
        agreed = true
    }

    /// Runs `body` (the whole command on this rank) and ends the rank as described above; returns only
    /// on success, after leaving MPI.
    func run(_ body: () throws -> Void) {
        do {
            try body()
            world.finalize()
        } catch {
            guard let (message, code) = EmberMain.describe(error) else { world.finalize(); return }
            func named(_ rank: Int, _ text: String) -> String { rank == 0 ? text : "rank \(rank): \(text)" }
            if !agreed {
                let failure = (error as? SetupFailure).map { ($0.rank, $0.message) } ?? world.firstFailure(message)!
                if isRoot { StandardError.write("error: \(named(failure.0, failure.1))\n") }
                world.finalize()
                exit(code)
            }
            if (error as? EmberError)?.sameOnEveryRank == true {
                if isRoot { StandardError.write("error: \(message)\n") }
                world.finalize()
                exit(code)
            }
            StandardError.write("error: \(named(world.rank, message))\n")
            world.abort(code: code)
        }
    }
}
