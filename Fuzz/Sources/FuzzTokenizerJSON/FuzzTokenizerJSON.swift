import EmberTokenizer
import FuzzSupport
import Foundation

// BertTokenizer(folder:) on a folder holding the input as tokenizer.json, then encoding fixed strings.
@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    Scratch.write(UnsafeBufferPointer(start: data, count: size), to: "tokenizer.json")
    guard let tokenizer = try? BertTokenizer(folder: Scratch.folder) else { return 0 }
    for text in fuzzTexts {
        _ = tokenizer.encode(text, maxLength: 16)
        _ = tokenizer.encode(text, maxLength: 0)
        _ = tokenizer.tokenize(text)
    }
    for id in [tokenizer.clsId, tokenizer.sepId, tokenizer.padId, tokenizer.unkId, -1, 0, Int32.max] {
        _ = tokenizer.token(forId: id)
    }
    return 0
}
