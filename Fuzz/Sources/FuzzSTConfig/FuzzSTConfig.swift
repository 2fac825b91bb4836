import EmberModel
import FuzzSupport
import Foundation

// The sentence-transformers config files. The first input byte chooses the file, the rest is its text:
//   0: 1_Pooling/config.json through Pooling.load
//   1: modules.json, 2: sentence_bert_config.json, 3: 1_Pooling/config.json, 4: config.json, 5: vocab.txt —
//      through SentenceModel(folder:) on a copy of the tiny model (../shared/reference/tiny-bert, or
//      $EMBER_TINY_BERT), the other files as in the tiny model. A model that loads encodes a few texts.
let tiny = ProcessInfo.processInfo.environment["EMBER_TINY_BERT"] ?? {
    let here = URL(fileURLWithPath: #filePath)  // Fuzz/Sources/FuzzSTConfig/FuzzSTConfig.swift
    return here.deletingLastPathComponent().appendingPathComponent("../../../../shared/reference/tiny-bert").standardized.path
}()
let fixed = ["model.safetensors", "tokenizer_config.json"]
let variable = ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "config.json", "vocab.txt"]
/// Set by scripts/fuzz.sh while fuzzing (not while replaying): step around findings already saved in
/// Fuzz/findings/st-config/ so that the run can look for new ones.
let skipKnown = ProcessInfo.processInfo.environment["EMBER_FUZZ_SKIP_KNOWN"] == "1"
/// The model folder's file holding the previous input (restored from the tiny model when another is fuzzed).
var modified: String? = nil

@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input, size > 0 else { return 0 }
    let body = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let selector = Int(data[0] % 6)
    if selector == 0 {
        let url = Scratch.write(body, to: "pooling.json")
        if let pooling = try? Pooling.load(url) { _ = pooling.outputDimension }
        return 0
    }
    for f in fixed + variable { Scratch.copy("\(tiny)/\(f)", to: "model/\(f)") }  // once
    let file = variable[selector - 1]
    if let previous = modified, previous != file {
        Scratch.remove("model/\(previous)")
        Scratch.copy("\(tiny)/\(previous)", to: "model/\(previous)")
    }
    Scratch.write(body, to: "model/\(file)")
    modified = file
    if let model = try? SentenceModel(folder: Scratch.folder.appendingPathComponent("model")) {
        // Known (findings/st-config/vocab-txt-larger-than-vocab-size): token ids ≥ config.json's vocab_size
        // read past the word-embedding table.
        if skipKnown && model.tokenizer.vocabularySize > model.config.vocabSize { return 0 }
        let embeddings = model.encode(fuzzTexts, batchSize: 4)
        precondition(embeddings.count == fuzzTexts.count * model.embeddingDimension)
    }
    return 0
}
