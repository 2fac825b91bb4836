import Dispatch
import EmberCore
@testable import EmberTraining
import XCTest

/// The batch samplers: the no-duplicates property on adversarial data, coverage, determinism, and
/// agreement with a direct transcription of sentence-transformers' ordered-dict algorithm.
final class SamplerTests: XCTestCase {
    /// 3-column rows where every anchor occurs twice, every positive four times (twice as a positive,
    /// twice as another row's negative), and some negatives are other rows' anchors.
    private func adversarialRows(_ n: Int) -> [[String]] {
        (0..<n).map { i in
            let negative = i % 10 == 0 ? "a\(((i + 3) % n) / 2)" : "p\((((i + 7) % n) + 1) / 2 % (n / 2))"
            return ["a\(i / 2)", "p\((i + 1) / 2 % (n / 2))", negative]
        }
    }

    /// sentence-transformers' historical `NoDuplicatesBatchSampler.__iter__` (an ordered dict of
    /// remaining indices, values compared as Python strings, i.e. by code points), written plainly.
    private func referenceBatches(_ rows: [[String]], order: [Int], batchSize: Int, dropLast: Bool) -> [[Int]] {
        var remaining = order
        var result: [[Int]] = []
        while !remaining.isEmpty {
            var values = Set<[UInt8]>()
            var batch: [Int] = []
            var full = false
            for index in remaining {
                let sample = Set(rows[index].map { Array($0.utf8) })
                if !sample.isDisjoint(with: values) { continue }
                batch.append(index)
                if batch.count == batchSize { full = true; break }
                values.formUnion(sample)
            }
            if full || !dropLast { result.append(batch) }
            let taken = Set(batch)
            remaining.removeAll { taken.contains($0) }
        }
        return result
    }

    private func assertNoDuplicates(_ rows: [[String]], _ batches: [[Int]], file: StaticString = #filePath, line: UInt = #line) {
        for batch in batches {
            var seen = Set<[UInt8]>()
            for index in batch {
                for value in Set(rows[index].map { Array($0.utf8) }) {
                    XCTAssertTrue(seen.insert(value).inserted, "'\(String(decoding: value, as: UTF8.self))' twice in a batch", file: file, line: line)
                }
            }
        }
    }

    func testAdversarialBatchesHaveNoDuplicateAndCoverEveryRowOnce() {
        let rows = adversarialRows(400)
        for batchSize in [2, 7, 32] {
            let sampler = NoDuplicatesBatchSampler(rows: rows, batchSize: batchSize, seed: 42)
            for epoch in 0..<3 {
                let batches = sampler.batches(epoch: epoch)
                assertNoDuplicates(rows, batches)
                XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<rows.count))
                XCTAssertTrue(batches.allSatisfy { !$0.isEmpty && $0.count <= batchSize })
                let order = epochPermutation(count: rows.count, seed: 42, epoch: epoch)
                XCTAssertEqual(batches, referenceBatches(rows, order: order, batchSize: batchSize, dropLast: false))
            }
        }
        // Duplicates force short batches: more batches than ceil(N / batchSize).
        XCTAssertGreaterThan(NoDuplicatesBatchSampler(rows: rows, batchSize: 32, seed: 42).batches(epoch: 0).count, 13)
    }

    func testDropLastKeepsOnlyFullBatches() {
        let rows = adversarialRows(400)
        let sampler = NoDuplicatesBatchSampler(rows: rows, batchSize: 32, seed: 7, dropLast: true)
        let batches = sampler.batches(epoch: 1)
        XCTAssertFalse(batches.isEmpty)
        XCTAssertTrue(batches.allSatisfy { $0.count == 32 })
        assertNoDuplicates(rows, batches)
        XCTAssertEqual(Set(batches.flatMap { $0 }).count, batches.count * 32)
        let order = epochPermutation(count: rows.count, seed: 7, epoch: 1)
        XCTAssertEqual(batches, referenceBatches(rows, order: order, batchSize: 32, dropLast: true))
    }

    func testEqualityIsByCodePointsAndWithinARowIsAllowed() {
        // "é" precomposed and decomposed are == in Swift but different strings in Python: they may
        // share a batch. A row whose anchor equals its own positive is not a conflict with itself.
        let rows = [["\u{E9}", "x"], ["e\u{301}", "y"], ["same", "same"]]
        let batches = NoDuplicatesBatchSampler(rows: rows, batchSize: 3, seed: 0).batches(epoch: 0)
        XCTAssertEqual(batches.count, 1)
        XCTAssertEqual(batches[0].sorted(), [0, 1, 2])
        // Whereas an exact repeat in another column is a conflict.
        let clash = NoDuplicatesBatchSampler(rows: [["a", "b"], ["c", "a"]], batchSize: 2, seed: 0).batches(epoch: 0)
        XCTAssertEqual(clash.count, 2)
    }

    func testInternerIsExactEvenWhenEveryHashCollides() {
        let strings = ["", "a", "b", "ab", "ba", "\u{E9}", "e\u{301}", "a long string beyond eight bytes", "a long string beyond eight bytez"]
        for hash in [StringInterner.hash, { _ in 7 }] as [(UnsafeRawBufferPointer) -> UInt64] {
            var interner = StringInterner(expectedCount: 2, hash: hash)  // also forces the table to grow
            let ids = strings.map { interner.id(of: $0) }
            XCTAssertEqual(ids, (0..<Int32(strings.count)).map { $0 })
            XCTAssertEqual(strings.reversed().map { interner.id(of: $0) }, ids.reversed())
            XCTAssertEqual(interner.id(of: String("xab".dropFirst())), 3)  // a substring-backed copy
            XCTAssertEqual(interner.count, strings.count)
        }
    }

    func testUniqueRowsGiveThePlainSamplersBatches() {
        let rows = (0..<103).map { ["q\($0)", "d\($0)"] }
        for dropLast in [false, true] {
            let plain = BatchSampler(rows: rows, batchSize: 10, seed: 3, dropLast: dropLast).batches(epoch: 2)
            XCTAssertEqual(NoDuplicatesBatchSampler(rows: rows, batchSize: 10, seed: 3, dropLast: dropLast).batches(epoch: 2), plain)
            XCTAssertEqual(plain.count, dropLast ? 10 : 11)
            XCTAssertEqual(plain.last?.count, dropLast ? 10 : 3)
        }
        let all = BatchSampler(rows: rows, batchSize: 10, seed: 3).batches(epoch: 0).flatMap { $0 }
        XCTAssertEqual(all.sorted(), Array(0..<103))
        XCTAssertNotEqual(all, Array(0..<103))
    }

    func testDeterminismAcrossSeedsAndEpochs() {
        let rows = adversarialRows(200)
        func run<S: BatchSampling>(_: S.Type, seed: UInt64, epoch: Int) -> [[Int]] {
            S(rows: rows, batchSize: 8, seed: seed, dropLast: false).batches(epoch: epoch)
        }
        for type in [NoDuplicatesBatchSampler.self, BatchSampler.self] as [BatchSampling.Type] {
            func r(_ seed: UInt64, _ epoch: Int) -> [[Int]] { type.init(rows: rows, batchSize: 8, seed: seed, dropLast: false).batches(epoch: epoch) }
            XCTAssertEqual(r(42, 0), r(42, 0))
            XCTAssertEqual(r(42, 5), r(42, 5))
            XCTAssertNotEqual(r(42, 0), r(42, 1))
            XCTAssertNotEqual(r(42, 0), r(41, 0))
            // Seeded with seed + epoch, as sentence-transformers seeds its generator.
            XCTAssertEqual(r(42, 1), r(43, 0))
        }
        XCTAssertEqual(run(NoDuplicatesBatchSampler.self, seed: 1, epoch: 1), run(NoDuplicatesBatchSampler.self, seed: 1, epoch: 1))
    }

    func testGeneratorIsStandardXoshiro256StarStar() {
        // First outputs for seed 42 (SplitMix64-expanded state), from an independent Python transcription
        // of the reference C code.
        var g = Xoshiro256StarStar(seed: 42)
        XCTAssertEqual([g.next(), g.next(), g.next()], [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1])
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<50_000 { counts[Int(g.next(below: 5))] += 1 }
        XCTAssertTrue(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
        XCTAssertEqual(epochPermutation(count: 1000, seed: 9, epoch: 0).sorted(), Array(0..<1000))
    }

    func testHundredThousandRowsWithSharedTexts() {
        // Realistic duplication: 100k rows, anchors repeated (several positives per query), shared
        // hard negatives.
        let n = 100_000
        let rows = (0..<n).map { i in
            ["what is the meaning of query number \(i / 3)?", "passage text for document \(i) with some length to it",
             "hard negative passage \(i % 5_000)"]
        }
        let batches = NoDuplicatesBatchSampler(rows: rows, batchSize: 64, seed: 42).batches(epoch: 0)
        XCTAssertEqual(batches.reduce(0) { $0 + $1.count }, n)
        for batch in batches.prefix(200) {
            let texts = batch.flatMap { rows[$0] }
            XCTAssertEqual(Set(texts).count, texts.count, "a text repeats inside a batch")
        }
    }
}
