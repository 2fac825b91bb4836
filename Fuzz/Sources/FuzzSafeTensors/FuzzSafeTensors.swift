import EmberModel
import Foundation
import FuzzSupport

// SafeTensors.read on the raw input (an in-memory safetensors image).
@main enum Harness { static func main() { runFuzzer(fuzz) } }

func fuzz(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let bytes = Data(bytes: data, count: size)
    if let tensors = try? SafeTensors.read(bytes, name: "fuzz.safetensors") {
        for (_, t) in tensors { precondition(t.shape.reduce(1, *) == t.count) }
    }
    return 0
}
