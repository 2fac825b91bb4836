import ArgumentParser
import EmberCore
import EmberMPI
import Foundation

/// `mpirun -np N ember bench mpi`: what data-parallel training's two collectives cost on this job's
/// ranks and network, alone (no training waits mixed in) — the gradient all-reduce (default: the
/// 22,566,400 trained parameters of all-MiniLM-L6-v2) and the embeddings' all-gather (default: a batch of
/// 2048 pairs at 384 dims). Rank 0 prints one JSON line: seconds per call (median of `--runs`) and the
/// bus bandwidth, the usual measure (all-reduce 2(N−1)/N × bytes, all-gather (N−1)/N × bytes per second).
struct BenchMPI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mpi", abstract: "Time the all-reduce and all-gather of data-parallel training (run under mpirun).")

    @Option(name: .long, help: "Floats all-reduced per call (default: all-MiniLM-L6-v2's trained parameters).") var reduceFloats: Int = 22_566_400
    @Option(name: .long, help: "Floats all-gathered per call, over all ranks (default: 2 columns × 2048 rows × 384).") var gatherFloats: Int = 2 * 2048 * 384
    @Option(name: .long, help: "Timed calls of each (the median is reported).") var runs: Int = 10

    func run() throws {
        let world = try Communicator.world()
        defer { world.finalize() }
        guard reduceFloats >= 0, gatherFloats >= 0, runs >= 1 else { throw ValidationError("--reduce-floats, --gather-floats must be ≥ 0 and --runs ≥ 1") }
        let gradient = FloatBuffer(count: max(1, reduceFloats))
        let counts = (0..<world.size).map { world.shard(gatherFloats, rank: $0).count }
        let own = [Float](repeating: 1, count: counts[world.rank])
        func median(_ body: () -> Void) -> Double {
            body()   // warm-up
            var times: [Double] = []
            for _ in 0..<runs {
                _ = world.allGather(bytes: [0])   // start together: time the collective, not the ranks' skew
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return times.sorted()[times.count / 2]
        }
        let reduce = median { world.allReduceSum(gradient.pointer, count: reduceFloats) }
        let gather = median { _ = world.allGather(own, counts: counts) }
        guard world.rank == 0 else { return }
        let n = Double(world.size), reduceBytes = Double(reduceFloats * 4), gatherBytes = Double(gatherFloats * 4)
        func rounded(_ x: Double, _ digits: Double) -> Double { (x * digits).rounded() / digits }
        let reduceBus: Double = reduce > 0 ? 2 * (n - 1) / n * reduceBytes / reduce / 1e9 : 0
        let gatherBus: Double = gather > 0 ? (n - 1) / n * gatherBytes / gather / 1e9 : 0
        var report: [String: Any] = ["ranks": world.size]
        report["allreduce_mb"] = rounded(reduceBytes / 1e6, 10)
        report["allreduce_s"] = rounded(reduce, 1e5)
        report["allreduce_bus_gb_per_s"] = rounded(reduceBus, 100)
        report["allgather_mb"] = rounded(gatherBytes / 1e6, 10)
        report["allgather_s"] = rounded(gather, 1e5)
        report["allgather_bus_gb_per_s"] = rounded(gatherBus, 100)
        try StandardOutput.write(Data((JSONOutput.string(report) + "\n").utf8))
    }
}
