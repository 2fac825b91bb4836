import EmberModel
import FuzzSupport
import Foundation

// The sentence-transformers config files. The first input byte chooses the file, the rest is its text:
//   0: 1_Pooling/config.json through Pooling.load
//   1: modules.json, 2: sentence_bert_config.json, 3: 1_Pooling/config.json — through SentenceModel(folder:)
//      on a copy of the tiny model (../shared/reference/tiny-bert, or $EMBER_TINY_BERT).
let tiny = ProcessInfo.processInfo.environment["EMBER_TINY_BERT"] ?? {
    let here = URL(fileURLWithPath: #filePath)  // Fuzz/Sources/FuzzSTConfig/main.swift
    return here.deletingLastPathComponent().appendingPathComponent("../../../../shared/reference/tiny-bert").standardized.path
}()
let files = ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]
let variable = ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"]

@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    guard size > 0 else { return 0 }
    let body = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let selector = Int(data[0] % 4)
    if selector == 0 {
        let url = Scratch.write(body, to: "pooling.json")
        if let pooling = try? Pooling.load(url) { _ = pooling.outputDimension }
        return 0
    }
    let folder = "model"
    for f in files { Scratch.copy("\(tiny)/\(f)", to: "\(folder)/\(f)") }
    for (i, f) in variable.enumerated() {
        if i == selector - 1 {
            Scratch.write(body, to: "\(folder)/\(f)")
        } else {
            Scratch.remove("\(folder)/\(f)")
            Scratch.copy("\(tiny)/\(f)", to: "\(folder)/\(f)")
        }
    }
    if let model = try? SentenceModel(folder: Scratch.folder.appendingPathComponent(folder)) {
        _ = model.tokenize("the short text")
        _ = model.embeddingDimension
    }
    return 0
}
