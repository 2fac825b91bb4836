import EmberModel
import FuzzSupport
import Foundation

// BertConfig.load on the input as config.json.
@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let url = Scratch.write(UnsafeBufferPointer(start: data, count: size), to: "config.json")
    if let config = try? BertConfig.load(url) { _ = config.headDim }
    return 0
}
