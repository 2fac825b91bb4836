/// A uniquely owned, 64-byte aligned block of Float32 — the storage of every activation, weight and
/// gradient in Ember. A class (not `[Float]`) so that writes never trigger copy-on-write and kernels
/// work on raw pointers; see swift-performance-notes.md ("Copy-on-write").
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// For a view: the buffer that owns the memory (kept alive by the view); nil when this one owns it.
    private let owner: FloatBuffer?

    /// Zero-filled storage for `count` floats.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        self.count = count
        owner = nil
    }

    /// A view of `count` floats of `owner` starting at `offset`: writes go to the owner's memory. Used to
    /// give the query/key/value parameters their own names while their storage stays one fused block.
    public init(viewing owner: FloatBuffer, offset: Int, count: Int) {
        precondition(offset >= 0 && offset + count <= owner.count, "view outside its buffer")
        pointer = owner.pointer + offset
        self.count = count
        self.owner = owner
    }

    /// Storage whose contents are unspecified: for buffers a kernel overwrites completely (activations,
    /// scratch), saving the zero-fill pass over memory that is about to be written anyway.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative buffer size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        owner = nil
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { if owner == nil { pointer.deallocate() } }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    /// The index of the first NaN or ±Inf, if any (weights at load and save, embeddings before writing).
    public func firstNonFinite() -> Int? {
        for i in 0..<count where !pointer[i].isFinite { return i }
        return nil
    }

    public func copy() -> FloatBuffer {
        let other = FloatBuffer(count: count)
        other.pointer.update(from: pointer, count: count)
        return other
    }
}
