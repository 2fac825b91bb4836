import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether this machine can run `--precision bf16` (Debian's oneDNN and a CPU with AVX512_BF16), for the
/// CLI tests that drive the binary. Under CI the machine kind has both, so a test must not skip there.
public enum BF16Machine {
    public static let available: Bool = {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard cpu.contains("avx512_bf16") else { return false }
        return dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL) != nil
    }()

    /// Whether a bf16 test should run: here it can, or it is CI (where it must, and fails loudly if it cannot).
    public static var shouldTest: Bool { available || MiniLMFolder.isCI(ProcessInfo.processInfo.environment) }
}
