import EmberTestSupport
import Foundation
import XCTest

/// The real-model helper every full-model test goes through: a skip on a developer machine, a failure
/// under CI, the folder when EMBER_MINILM_DIR is set.
final class MiniLMFolderTests: XCTestCase {
    func testMissingModelSkipsLocallyAndFailsUnderCI() {
        XCTAssertThrowsError(try MiniLMFolder.require(environment: [:])) { XCTAssertTrue($0 is XCTSkip, "\($0)") }
        XCTAssertThrowsError(try MiniLMFolder.require(environment: ["CI": "false"])) { XCTAssertTrue($0 is XCTSkip, "\($0)") }
        for ci in ["true", "1", "yes"] {
            XCTAssertThrowsError(try MiniLMFolder.require(environment: ["CI": ci, "EMBER_MINILM_DIR": ""])) { error in
                XCTAssertFalse(error is XCTSkip, "CI=\(ci) must fail, not skip")
                XCTAssertTrue("\(error)".contains("EMBER_MINILM_DIR"), "\(error)")
            }
        }
        XCTAssertEqual(try MiniLMFolder.require(environment: ["CI": "true", "EMBER_MINILM_DIR": "/m"]).path, "/m")
    }
}
