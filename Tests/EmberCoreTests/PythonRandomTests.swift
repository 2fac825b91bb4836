import EmberCore
import XCTest

/// Known answers from CPython 3.11.7: `random.Random(seed)`, then the calls below in this order.
final class PythonRandomTests: XCTestCase {
    func testWordsMatchCPythonForOneAndTwoWordSeeds() {
        var r = PythonRandom(seed: 42)
        XCTAssertEqual((0..<3).map { _ in r.getrandbits(32) }, [2_746_317_213, 478_163_327, 107_420_369])
        r = PythonRandom(seed: 0)
        XCTAssertEqual((0..<2).map { _ in r.getrandbits(32) }, [3_626_764_237, 1_654_615_998])
        r = PythonRandom(seed: (1 << 40) + 5)   // two key words
        XCTAssertEqual((0..<2).map { _ in r.getrandbits(32) }, [2_166_296_868, 2_220_160_828])
    }

    /// One stream: sample(range(10), 3) and sample(range(3), 3) (pool path), sample(range(100), 7) and
    /// sample(range(1000), 10) (rejection path: n above CPython's setsize of 85 for k > 5), sample(range(50), 8)
    /// (pool path with k > 5), then getrandbits(5) — so every draw's consumption must match too.
    func testSampleMatchesCPythonOnBothPaths() {
        var r = PythonRandom(seed: 42)
        XCTAssertEqual(r.sample(10, 3), [1, 0, 4])
        XCTAssertEqual(r.sample(3, 3), [0, 2, 1])
        XCTAssertEqual(r.sample(100, 7), [94, 13, 86, 69, 11, 75, 54])
        XCTAssertEqual(r.sample(1000, 10), [32, 30, 95, 223, 238, 517, 616, 27, 574, 203])
        XCTAssertEqual(r.sample(50, 8), [45, 41, 44, 34, 26, 14, 28, 37])
        XCTAssertEqual(r.getrandbits(5), 8)
    }
}
