import EmberModel
import EmberTestSupport
import Foundation
import XCTest

/// `AtomicFolder.recover` undoes each state a killed `AtomicFolder.write` can leave (the states are
/// built by hand here, as the steps of `write` would leave them, with the pid of a finished process).
final class AtomicFolderTests: XCTestCase {
    var root: URL!
    let fm = FileManager.default

    override func setUpWithError() throws {
        root = fm.temporaryDirectory.appendingPathComponent("ember-atomic-\(UUID().uuidString)")
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? fm.removeItem(at: root) }

    func file(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
    func read(_ path: String) -> String? { fm.contents(atPath: root.appendingPathComponent(path).path).map { String(decoding: $0, as: UTF8.self) } }
    func entries(_ path: String = "") -> [String] { ((try? fm.contentsOfDirectory(atPath: root.appendingPathComponent(path).path)) ?? []).sorted() }

    func testPartialTemporaryIsRemoved() throws {
        let pid = try Processes.deadPID()
        try file("out/model.safetensors", "old")
        try file(".out.tmp-\(pid)-7/model.safetensors", "half")
        let removed = try AtomicFolder.recover(root.appendingPathComponent("out"))
        XCTAssertEqual(removed, [".out.tmp-\(pid)-7"])
        XCTAssertEqual(entries(), ["out"])
        XCTAssertEqual(read("out/model.safetensors"), "old")
    }

    func testJournaledEntriesGoBack() throws {
        let pid = try Processes.deadPID()
        try file("out/ember_run.json", "marker")
        try file(".out.tmp-\(pid)-7/model.safetensors", "new")
        try file(".out.tmp-\(pid)-7/checkpoint-4/model.safetensors", "ckpt")   // moved before the kill
        try file(".out.tmp-\(pid)-7/.ember-moved", "checkpoint-4\nmetrics.jsonl\n")  // metrics not yet moved
        try file("out/metrics.jsonl", "log")
        try AtomicFolder.recover(root.appendingPathComponent("out"))
        XCTAssertEqual(entries(), ["out"])
        XCTAssertEqual(entries("out"), ["checkpoint-4", "ember_run.json", "metrics.jsonl"])
        XCTAssertEqual(read("out/checkpoint-4/model.safetensors"), "ckpt")
        XCTAssertNil(read("out/model.safetensors"), "the new model's files do not leak into the folder")
    }

    func testMissingDestinationIsRolledBack() throws {
        let pid = try Processes.deadPID()
        // Killed between "rename out → old" and "rename temporary → out".
        try file(".out.old-\(pid)-9/ember_run.json", "marker")
        try file(".out.tmp-\(pid)-9/model.safetensors", "new")
        try file(".out.tmp-\(pid)-9/checkpoint-2/x", "ckpt")
        try file(".out.tmp-\(pid)-9/.ember-moved", "checkpoint-2\n")
        try AtomicFolder.recover(root.appendingPathComponent("out"))
        XCTAssertEqual(entries(), ["out"])
        XCTAssertEqual(entries("out"), ["checkpoint-2", "ember_run.json"])
    }

    func testJournalInsideTheNewFolderAfterTheSwapIsRemoved() throws {
        let pid = try Processes.deadPID()
        // Killed between "rename temporary → out" and removing the journal it carried along.
        try file("out/model.safetensors", "new")
        try file("out/ember_run.json", "marker")
        try file("out/.ember-moved", "ember_run.json\n")
        try file(".out.old-\(pid)-5/model.safetensors", "old")
        try AtomicFolder.recover(root.appendingPathComponent("out"))
        XCTAssertEqual(entries(), ["out"])
        XCTAssertEqual(entries("out"), ["ember_run.json", "model.safetensors"])
        XCTAssertEqual(read("out/model.safetensors"), "new")
    }

    func testOldFolderAfterTheSwapIsRemoved() throws {
        let pid = try Processes.deadPID()
        try file("out/model.safetensors", "new")
        try file(".out.old-\(pid)-3/model.safetensors", "old")
        try AtomicFolder.recover(root.appendingPathComponent("out"))
        XCTAssertEqual(entries(), ["out"])
        XCTAssertEqual(read("out/model.safetensors"), "new")
    }

    func testLiveWritersAndOtherNamesAreLeftAlone() throws {
        try file(".out.tmp-\(getppid())-1/x", "a live process's")   // our parent is running
        try file(".out.tmp-notapid-1/x", "someone's")
        try file(".outer.tmp-\(try Processes.deadPID())-1/x", "another folder's")
        try file(".out.tmp-\(try Processes.deadPID())/x", "no random part")
        XCTAssertEqual(try AtomicFolder.recover(root.appendingPathComponent("out")), [])
        XCTAssertEqual(entries().count, 4)
    }

    func testWriteCarriesOverPreservedEntriesAndLeavesNothingBeside() throws {
        try file("out/ember_run.json", "marker")
        try file("out/model.safetensors", "old")
        try AtomicFolder.write(to: root.appendingPathComponent("out"), preserving: { $0 == "ember_run.json" }) { dir in
            try Data("new".utf8).write(to: dir.appendingPathComponent("model.safetensors"))
        }
        XCTAssertEqual(entries(), ["out"])
        XCTAssertEqual(entries("out"), ["ember_run.json", "model.safetensors"])
        XCTAssertEqual(read("out/model.safetensors"), "new")
    }
}
