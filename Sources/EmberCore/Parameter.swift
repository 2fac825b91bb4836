/// A trainable tensor: its checkpoint name, shape, value and a gradient buffer of the same size that
/// backward passes accumulate into (+=). The gradient is allocated on first use so inference-only
/// models (and frozen guide models) never pay for it.
public final class Parameter: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let value: FloatBuffer
    private var gradStorage: FloatBuffer?

    /// `grad`, when given, is the gradient storage to use (a view into a fused gradient block).
    public init(name: String, shape: [Int], value: FloatBuffer, grad: FloatBuffer? = nil) {
        precondition(shape.reduce(1, *) == value.count, "\(name): shape \(shape) does not match \(value.count) values")
        precondition(grad == nil || grad!.count == value.count, "\(name): gradient size mismatch")
        self.name = name
        self.shape = shape
        self.value = value
        gradStorage = grad
    }

    public var count: Int { value.count }

    /// The gradient buffer (allocated, zeroed, on first access).
    public var grad: FloatBuffer {
        if let g = gradStorage { return g }
        let g = FloatBuffer(count: value.count)
        gradStorage = g
        return g
    }

    public var hasGrad: Bool { gradStorage != nil }
    public func zeroGrad() { gradStorage?.zero() }
}
