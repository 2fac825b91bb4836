import EmberModel
import EmberTraining
import FuzzSupport
import Foundation

// Training-data and text readers. First input byte: bits 0-1 choose the extension (jsonl, csv, tsv, txt),
// the rest (mod 5) the reader: TrainingData.load without / with --columns, TextFiles.texts,
// TextFiles.jsonObjects, Delimited.read. The remaining bytes are the file.
let extensions = ["jsonl", "csv", "tsv", "txt"]

@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    guard size > 0 else { return 0 }
    let ext = extensions[Int(data[0] & 3)]
    let url = Scratch.write(UnsafeBufferPointer(start: data + 1, count: size - 1), to: "data.\(ext)")
    switch Int(data[0] >> 2) % 5 {
    case 0: _ = try? TrainingData.load(url)
    case 1: _ = try? TrainingData.load(url, columns: ["anchor", "positive"])
    case 2: _ = try? TextFiles.texts(from: url)
    case 3: _ = try? TextFiles.jsonObjects(from: url)
    default: _ = try? Delimited.read(url)
    }
    return 0
}
