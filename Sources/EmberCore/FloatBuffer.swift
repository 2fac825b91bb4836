/// A uniquely owned, 64-byte aligned block of Float32 — the storage of every activation, weight and
/// gradient in Ember. A class (not `[Float]`) so that writes never trigger copy-on-write and kernels
/// work on raw pointers; see swift-performance-notes.md ("Copy-on-write").
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Zero-filled storage for `count` floats.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        self.count = count
    }

    /// Storage whose contents are unspecified: for buffers a kernel overwrites completely (activations,
    /// scratch), saving the zero-fill pass over memory that is about to be written anyway.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative buffer size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public func copy() -> FloatBuffer {
        let other = FloatBuffer(count: count)
        other.pointer.update(from: pointer, count: count)
        return other
    }
}

/// A growable scratch buffer: reused across batches so the hot path does not allocate once it has
/// seen the largest batch.
public final class Scratch: @unchecked Sendable {
    public private(set) var buffer = FloatBuffer(count: 0)
    public init() {}
    /// A pointer to at least `count` floats; contents are unspecified.
    public func pointer(count: Int) -> UnsafeMutablePointer<Float> {
        if buffer.count < count { buffer = FloatBuffer(count: count) }
        return buffer.pointer
    }
}
