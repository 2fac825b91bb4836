import EmberTestSupport
import Foundation
import XCTest

/// A folder saved by `ember train` loads in sentence-transformers and encodes like `ember encode`.
/// parity/check_saved_model.py trained with Ember, loaded the result in sentence-transformers 6.2 and
/// recorded its embeddings of probe texts (Tests/Fixtures/saved_model_check.json). Ember's training is
/// deterministic, so this test repeats the same `ember train` run and checks that `ember encode` of the
/// new folder reproduces sentence-transformers' embeddings of the old one.
final class SavedModelCheckTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let model: String
            let train_argv: [String]
            let pairs: [[String]]
            let probes: [String]
            let st_embeddings: [[Double]]
            let saved_files: [String]
            let weights_changed: WeightsChanged
        }
        struct WeightsChanged: Decodable {
            let tensors: Int
            let changed: Int
            let unchanged: [String]
        }
        let cases: [Case]
    }

    func check(_ name: String, modelDir: String) throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: CLITests.repoRoot.appendingPathComponent("Tests/Fixtures/saved_model_check.json")))
        guard let c = fixture.cases.first(where: { $0.model == name }) else { return XCTFail("no case \(name)") }
        let dir = try temporaryFolder()
        let data = dir.appendingPathComponent("pairs.jsonl"), output = dir.appendingPathComponent("out")
        let lines = try c.pairs.map { pair -> String in
            let a = String(decoding: try JSONSerialization.data(withJSONObject: pair[0], options: .fragmentsAllowed), as: UTF8.self)
            let p = String(decoding: try JSONSerialization.data(withJSONObject: pair[1], options: .fragmentsAllowed), as: UTF8.self)
            return "{\"anchor\": \(a), \"positive\": \(p)}"
        }
        try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        let argv = c.train_argv.map {
            $0.replacingOccurrences(of: "{MODEL_DIR}", with: modelDir).replacingOccurrences(of: "{DATA}", with: data.path)
                .replacingOccurrences(of: "{OUTPUT}", with: output.path)
        }
        var r = try ember(argv)
        XCTAssertEqual(r.status, 0, r.stderr)
        // The folder written now has the files the reference run saved and loaded, and its weights moved
        // from the start model exactly where the reference run's did (every tensor but the pooler).
        let written = try FileManager.default.subpathsOfDirectory(atPath: output.path).filter {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: output.appendingPathComponent($0).path, isDirectory: &isDirectory)
            return !isDirectory.boolValue && !$0.hasPrefix("checkpoint-")
        }
        // The fixture's folder held the run marker, the model card and the report too, and the reference
        // loaded it without a warning: nothing Ember adds to a folder stands in sentence-transformers' way.
        XCTAssertTrue(Set(c.saved_files).isSuperset(of: ["ember_run.json", "README.md", "report.html", "metrics.jsonl"]),
                      "\(name): the fixture predates the model card; regenerate it (parity/check_saved_model.py)")
        XCTAssertEqual(Set(written), Set(c.saved_files), "\(name): saved files")
        let start = try readF32Tensors(URL(fileURLWithPath: modelDir).appendingPathComponent("model.safetensors"))
        let trained = try readF32Tensors(output.appendingPathComponent("model.safetensors"))
        let unchanged = trained.filter { start[$0.key] == $0.value }.map(\.key)
        XCTAssertEqual(trained.count, c.weights_changed.tensors, "\(name): tensors saved")
        // Ember stores the attention key bias's true gradient, 0 (BertBackward: softmax ignores it), where the
        // reference's run moved it by rounding noise alone; every other tensor moved in both.
        let keyBiases = Set(trained.keys.filter { $0.hasSuffix("attention.self.key.bias") })
        XCTAssertFalse(keyBiases.isEmpty)
        XCTAssertEqual(Set(unchanged), Set(c.weights_changed.unchanged).union(keyBiases), "\(name): tensors training left unchanged")
        let probes = dir.appendingPathComponent("probes.txt"), embeddings = dir.appendingPathComponent("e.jsonl")
        try (c.probes.joined(separator: "\n") + "\n").write(to: probes, atomically: true, encoding: .utf8)
        r = try ember(["encode", "--model", output.path, "--input", probes.path, "--output", embeddings.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try String(contentsOf: embeddings, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Double]
        }
        XCTAssertEqual(rows.count, c.st_embeddings.count)
        // The comparison below can tell a trained folder from an untrained one: the start model's
        // embeddings are ≥ 100× the tolerance away from sentence-transformers' of the trained folder.
        let untrained = dir.appendingPathComponent("start.jsonl")
        r = try ember(["encode", "--model", modelDir, "--input", probes.path, "--output", untrained.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let startRows = try String(contentsOf: untrained, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Double]
        }
        let startGap = zip(startRows, c.st_embeddings).map { zip($0, $1).map { abs($0 - $1) }.max()! }.max()!
        XCTAssertGreaterThan(startGap, 1e-3, "\(name): training must move the probes' embeddings measurably")
        for (i, (ours, reference)) in zip(rows, c.st_embeddings).enumerated() {
            let dot = zip(ours, reference).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (ours.reduce(0) { $0 + $1 * $1 } * reference.reduce(0) { $0 + $1 * $1 }).squareRoot()
            XCTAssertGreaterThanOrEqual(dot / norms, 0.99999, "\(name) probe \(i)")
            XCTAssertLessThanOrEqual(zip(ours, reference).map { abs($0 - $1) }.max()!, 1e-5, "\(name) probe \(i)")
        }
    }

    func testTinyBertFolderMatchesSentenceTransformers() throws {
        try check("tiny-bert", modelDir: CLITests.tinyBert)
    }

    func testMiniLMFolderMatchesSentenceTransformers() throws {
        try check("all-MiniLM-L6-v2", modelDir: try MiniLMFolder.require().path)
    }
}
