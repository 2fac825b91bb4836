import EmberTokenizer
import FuzzSupport
import Foundation

// BertTokenizer(folder:) from vocab.txt (+ tokenizer_config.json), then encoding fixed strings.
// The input is vocab.txt, optionally followed by a NUL byte and tokenizer_config.json.
@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let all = UnsafeBufferPointer(start: data, count: size)
    if let nul = all.firstIndex(of: 0) {
        Scratch.write(UnsafeBufferPointer(rebasing: all[..<nul]), to: "vocab.txt")
        Scratch.write(UnsafeBufferPointer(rebasing: all[(nul + 1)...]), to: "tokenizer_config.json")
    } else {
        Scratch.write(all, to: "vocab.txt")
        Scratch.remove("tokenizer_config.json")
    }
    guard let tokenizer = try? BertTokenizer(folder: Scratch.folder) else { return 0 }
    for text in fuzzTexts {
        _ = tokenizer.encode(text, maxLength: 16)
        _ = tokenizer.tokenize(text)
    }
    return 0
}
