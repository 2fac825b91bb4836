import CDNNL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which arithmetic the dense layers' products use. `.fp32` (the default) is OpenBLAS `sgemm`, the path
/// every parity test checks. `.bf16` (`--precision bf16`, inference commands only) rounds both operands
/// of each linear layer's product to bfloat16 and multiplies them with oneDNN's AVX512_BF16 matmul,
/// accumulating and writing fp32; attention, GELU, LayerNorm and pooling stay fp32. Measured here on the
/// model's products: 366–374 GFLOP/s against 190 for fp32 sgemm (bench/bf16). Weights are converted once
/// and cached by address, so the mode is for frozen weights — encoding, evaluation, mining — never training.
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16

    nonisolated(unsafe) public static var products: Precision = .fp32

    /// Switches the process to `precision`, loading oneDNN for bf16: one-line error when the library or
    /// the CPU's bf16 instructions are missing.
    public static func use(_ precision: Precision) throws {
        if precision == .bf16 {
            guard BF16Linear.library != nil else {
                throw EmberError("--precision bf16 needs Debian's oneDNN: apt-get install libdnnl-dev (libdnnl.so.2 was not found)")
            }
            guard BLAS.cpuFlags().contains("avx512_bf16") else {
                throw EmberError("--precision bf16 needs a CPU with AVX512_BF16 instructions (this one has none)")
            }
        }
        products = precision
        BF16Linear.dropWeights()
    }
}

/// y = x·Wᵀ + b with bf16 operands and fp32 accumulation through oneDNN's matmul primitive.
enum BF16Linear {
    typealias EngineCreate = @convention(c) (UnsafeMutablePointer<dnnl_engine_t?>?, dnnl_engine_kind_t, Int) -> dnnl_status_t
    typealias StreamCreate = @convention(c) (UnsafeMutablePointer<dnnl_stream_t?>?, dnnl_engine_t?, UInt32) -> dnnl_status_t
    typealias StreamWait = @convention(c) (dnnl_stream_t?) -> dnnl_status_t
    typealias StreamDestroy = @convention(c) (dnnl_stream_t?) -> dnnl_status_t
    typealias DescInitByTag = @convention(c) (UnsafeMutablePointer<dnnl_memory_desc_t>?, Int32, UnsafePointer<Int64>?,
                                              dnnl_data_type_t, dnnl_format_tag_t) -> dnnl_status_t
    typealias MatmulDescInit = @convention(c) (UnsafeMutablePointer<dnnl_matmul_desc_t>?, UnsafePointer<dnnl_memory_desc_t>?,
                                               UnsafePointer<dnnl_memory_desc_t>?, UnsafePointer<dnnl_memory_desc_t>?,
                                               UnsafePointer<dnnl_memory_desc_t>?) -> dnnl_status_t
    typealias PrimitiveDescCreate = @convention(c) (UnsafeMutablePointer<dnnl_primitive_desc_t?>?, UnsafeRawPointer?,
                                                    OpaquePointer?, dnnl_engine_t?, OpaquePointer?) -> dnnl_status_t
    typealias PrimitiveDescDestroy = @convention(c) (dnnl_primitive_desc_t?) -> dnnl_status_t
    typealias PrimitiveCreate = @convention(c) (UnsafeMutablePointer<dnnl_primitive_t?>?, OpaquePointer?) -> dnnl_status_t
    typealias PrimitiveExecute = @convention(c) (OpaquePointer?, dnnl_stream_t?, Int32, UnsafePointer<dnnl_exec_arg_t>?) -> dnnl_status_t
    typealias MemoryCreate = @convention(c) (UnsafeMutablePointer<dnnl_memory_t?>?, UnsafePointer<dnnl_memory_desc_t>?,
                                             dnnl_engine_t?, UnsafeMutableRawPointer?) -> dnnl_status_t
    typealias MemoryDestroy = @convention(c) (dnnl_memory_t?) -> dnnl_status_t

    struct Library: @unchecked Sendable {
        let streamCreate: StreamCreate, streamWait: StreamWait, streamDestroy: StreamDestroy
        let descInit: DescInitByTag, matmulInit: MatmulDescInit
        let pdCreate: PrimitiveDescCreate, pdDestroy: PrimitiveDescDestroy
        let primitiveCreate: PrimitiveCreate, execute: PrimitiveExecute
        let memoryCreate: MemoryCreate, memoryDestroy: MemoryDestroy
        let engine: dnnl_engine_t
    }

    /// oneDNN, loaded on first use. Its OpenMP threads: one per worker while `CoreWorkers` runs one
    /// product per core (the default), all cores otherwise — unless the user set OMP_NUM_THREADS.
    static let library: Library? = {
        if getenv("OMP_NUM_THREADS") == nil {
            setenv("OMP_NUM_THREADS", CoreWorkers.count > 1 ? "1" : "\(ProcessInfoCores.count)", 0)
        }
        guard let h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_GLOBAL) ?? dlopen("libdnnl.so", RTLD_NOW | RTLD_GLOBAL) else { return nil }
        func f<T>(_ name: String, _: T.Type) -> T? { dlsym(h, name).map { unsafeBitCast($0, to: T.self) } }
        guard let engineCreate = f("dnnl_engine_create", EngineCreate.self),
              let streamCreate = f("dnnl_stream_create", StreamCreate.self), let streamWait = f("dnnl_stream_wait", StreamWait.self),
              let streamDestroy = f("dnnl_stream_destroy", StreamDestroy.self),
              let descInit = f("dnnl_memory_desc_init_by_tag", DescInitByTag.self),
              let matmulInit = f("dnnl_matmul_desc_init", MatmulDescInit.self),
              let pdCreate = f("dnnl_primitive_desc_create", PrimitiveDescCreate.self),
              let pdDestroy = f("dnnl_primitive_desc_destroy", PrimitiveDescDestroy.self),
              let primitiveCreate = f("dnnl_primitive_create", PrimitiveCreate.self),
              let execute = f("dnnl_primitive_execute", PrimitiveExecute.self),
              let memoryCreate = f("dnnl_memory_create", MemoryCreate.self),
              let memoryDestroy = f("dnnl_memory_destroy", MemoryDestroy.self) else { return nil }
        var engine: dnnl_engine_t? = nil
        guard engineCreate(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
        return Library(streamCreate: streamCreate, streamWait: streamWait, streamDestroy: streamDestroy, descInit: descInit,
                       matmulInit: matmulInit, pdCreate: pdCreate, pdDestroy: pdDestroy, primitiveCreate: primitiveCreate,
                       execute: execute, memoryCreate: memoryCreate, memoryDestroy: memoryDestroy, engine: engine)
    }()

    /// One matmul shape: x [rows × in] · Wᵀ (W stored [out × in]) + b → y [rows × out].
    struct Key: Hashable { let rows, inFeatures, outFeatures: Int }
    final class Product: @unchecked Sendable {
        var src = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), bias = dnnl_memory_desc_t(), dst = dnnl_memory_desc_t()
        var primitive: dnnl_primitive_t? = nil
    }
    nonisolated(unsafe) static var products: [Key: Product] = [:]
    static let lock = NSLock()

    static func check(_ status: dnnl_status_t, _ what: String) {
        precondition(status == dnnl_success, "oneDNN \(what) failed (status \(status.rawValue))")
    }

    static func product(_ key: Key, _ lib: Library) -> Product {
        lock.lock(); defer { lock.unlock() }
        if let p = products[key] { return p }
        let p = Product()
        var srcDims: [Int64] = [Int64(key.rows), Int64(key.inFeatures)], weightDims: [Int64] = [Int64(key.inFeatures), Int64(key.outFeatures)]
        var biasDims: [Int64] = [1, Int64(key.outFeatures)], dstDims: [Int64] = [Int64(key.rows), Int64(key.outFeatures)]
        check(lib.descInit(&p.src, 2, &srcDims, dnnl_bf16, dnnl_ab), "source descriptor")
        check(lib.descInit(&p.weights, 2, &weightDims, dnnl_bf16, dnnl_ba), "weights descriptor")   // W [out × in] = (in, out) column-major
        check(lib.descInit(&p.bias, 2, &biasDims, dnnl_f32, dnnl_ab), "bias descriptor")
        check(lib.descInit(&p.dst, 2, &dstDims, dnnl_f32, dnnl_ab), "destination descriptor")
        var desc = dnnl_matmul_desc_t()
        check(lib.matmulInit(&desc, &p.src, &p.weights, &p.bias, &p.dst), "matmul descriptor")
        var pd: dnnl_primitive_desc_t? = nil
        check(withUnsafePointer(to: &desc) { lib.pdCreate(&pd, UnsafeRawPointer($0), nil, lib.engine, nil) }, "matmul primitive descriptor")
        check(lib.primitiveCreate(&p.primitive, pd), "matmul primitive")
        _ = lib.pdDestroy(pd)
        products[key] = p
        return p
    }

    /// W rounded to bf16 once per weight buffer. The cache is keyed by address and checked against 16
    /// sampled values, so a buffer freed and reused by another model (or weights changed in place) is
    /// converted anew rather than served stale.
    struct CachedWeight { let values: UnsafeMutablePointer<UInt16>; let count: Int; let fingerprint: [Float] }
    nonisolated(unsafe) static var weights: [UnsafeRawPointer: CachedWeight] = [:]

    static func dropWeights() {
        lock.lock(); defer { lock.unlock() }
        weights.values.forEach { $0.values.deallocate() }
        weights = [:]
    }

    static func fingerprint(_ w: UnsafePointer<Float>, count: Int) -> [Float] {
        (0..<16).map { w[$0 * (count - 1) / 15] }
    }

    static func weight(_ w: UnsafePointer<Float>, count: Int) -> UnsafeMutablePointer<UInt16> {
        lock.lock(); defer { lock.unlock() }
        let print = fingerprint(w, count: count)
        if let cached = weights[UnsafeRawPointer(w)] {
            if cached.count == count && cached.fingerprint == print { return cached.values }
            cached.values.deallocate()
        }
        let converted = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        round(w, converted, count: count)
        weights[UnsafeRawPointer(w)] = CachedWeight(values: converted, count: count, fingerprint: print)
        return converted
    }

    /// fp32 → bf16, round to nearest even (finite inputs; the model's activations and weights are checked finite).
    static func round(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<UInt32>.self)
            let r = (v &+ 0x7fff &+ ((v &>> 16) & 1)) &>> 16
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: r), as: SIMD16<UInt16>.self)
            i += 16
        }
        while i < count {
            let u = src[i].bitPattern
            dst[i] = UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
            i += 1
        }
    }

    static func forward(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        guard rows > 0, let lib = library else { return }
        let p = product(Key(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures), lib)
        let w = self.weight(weight, count: inFeatures * outFeatures)
        let xs = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * inFeatures)
        defer { xs.deallocate() }
        round(x, xs, count: rows * inFeatures)
        var stream: dnnl_stream_t? = nil
        check(lib.streamCreate(&stream, lib.engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        defer { _ = lib.streamDestroy(stream) }
        var memories: [dnnl_memory_t?] = [nil, nil, nil, nil]
        check(lib.memoryCreate(&memories[0], &p.src, lib.engine, UnsafeMutableRawPointer(xs)), "source memory")
        check(lib.memoryCreate(&memories[1], &p.weights, lib.engine, UnsafeMutableRawPointer(w)), "weights memory")
        check(lib.memoryCreate(&memories[2], &p.bias, lib.engine, UnsafeMutableRawPointer(mutating: bias)), "bias memory")
        check(lib.memoryCreate(&memories[3], &p.dst, lib.engine, UnsafeMutableRawPointer(y)), "destination memory")
        defer { memories.forEach { _ = lib.memoryDestroy($0) } }
        // DNNL_ARG_SRC, _WEIGHTS, _BIAS, _DST (dnnl_types.h)
        let args = [dnnl_exec_arg_t(arg: 1, memory: memories[0]), dnnl_exec_arg_t(arg: 33, memory: memories[1]),
                    dnnl_exec_arg_t(arg: 41, memory: memories[2]), dnnl_exec_arg_t(arg: 17, memory: memories[3])]
        check(lib.execute(p.primitive, stream, 4, args), "matmul")
        check(lib.streamWait(stream), "stream wait")
    }
}
