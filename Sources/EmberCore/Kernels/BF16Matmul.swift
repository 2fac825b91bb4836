import CDNNL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// C [m × n] (+)= A [m × k] · B [k × n] (+ bias [n]) with bf16 operands and fp32 accumulation and output,
/// through Debian's oneDNN matmul primitive (AVX512_BF16; 352–374 GFLOP/s on the model's products here
/// against 190 for fp32 sgemm, bench/bf16). Either operand may be stored transposed, so the three products
/// of a linear layer — y = x·Wᵀ, dx = dy·W, dW += dyᵀ·x — all run on the buffers as they lie.
/// oneDNN is `dlopen`ed like OpenBLAS: fp32 Ember never loads it.
enum BF16Matmul {
    typealias EngineCreate = @convention(c) (UnsafeMutablePointer<dnnl_engine_t?>?, dnnl_engine_kind_t, Int) -> dnnl_status_t
    typealias StreamCreate = @convention(c) (UnsafeMutablePointer<dnnl_stream_t?>?, dnnl_engine_t?, UInt32) -> dnnl_status_t
    typealias StreamCall = @convention(c) (dnnl_stream_t?) -> dnnl_status_t
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
    typealias HandleCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> dnnl_status_t
    typealias HandleDestroy = @convention(c) (OpaquePointer?) -> dnnl_status_t
    typealias AppendSum = @convention(c) (OpaquePointer?, Float) -> dnnl_status_t
    typealias SetPostOps = @convention(c) (OpaquePointer?, OpaquePointer?) -> dnnl_status_t
    typealias SetScratchpadMode = @convention(c) (OpaquePointer?, dnnl_scratchpad_mode_t) -> dnnl_status_t
    typealias QueryDesc = @convention(c) (OpaquePointer?, dnnl_query_t, Int32) -> UnsafePointer<dnnl_memory_desc_t>?
    typealias DescSize = @convention(c) (UnsafePointer<dnnl_memory_desc_t>?) -> Int

    struct Library: @unchecked Sendable {
        let streamCreate: StreamCreate, streamWait: StreamCall, streamDestroy: StreamCall
        let descInit: DescInitByTag, matmulInit: MatmulDescInit
        let pdCreate: PrimitiveDescCreate, pdDestroy: PrimitiveDescDestroy
        let primitiveCreate: PrimitiveCreate, execute: PrimitiveExecute
        let memoryCreate: MemoryCreate, memoryDestroy: MemoryDestroy
        let attrCreate: HandleCreate, attrDestroy: HandleDestroy, attrSetPostOps: SetPostOps
        let postOpsCreate: HandleCreate, postOpsDestroy: HandleDestroy, appendSum: AppendSum
        let setScratchpadMode: SetScratchpadMode, queryDesc: QueryDesc, descSize: DescSize
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
              let streamCreate = f("dnnl_stream_create", StreamCreate.self), let streamWait = f("dnnl_stream_wait", StreamCall.self),
              let streamDestroy = f("dnnl_stream_destroy", StreamCall.self),
              let descInit = f("dnnl_memory_desc_init_by_tag", DescInitByTag.self),
              let matmulInit = f("dnnl_matmul_desc_init", MatmulDescInit.self),
              let pdCreate = f("dnnl_primitive_desc_create", PrimitiveDescCreate.self),
              let pdDestroy = f("dnnl_primitive_desc_destroy", PrimitiveDescDestroy.self),
              let primitiveCreate = f("dnnl_primitive_create", PrimitiveCreate.self),
              let execute = f("dnnl_primitive_execute", PrimitiveExecute.self),
              let memoryCreate = f("dnnl_memory_create", MemoryCreate.self),
              let memoryDestroy = f("dnnl_memory_destroy", MemoryDestroy.self),
              let attrCreate = f("dnnl_primitive_attr_create", HandleCreate.self),
              let attrDestroy = f("dnnl_primitive_attr_destroy", HandleDestroy.self),
              let attrSetPostOps = f("dnnl_primitive_attr_set_post_ops", SetPostOps.self),
              let postOpsCreate = f("dnnl_post_ops_create", HandleCreate.self),
              let postOpsDestroy = f("dnnl_post_ops_destroy", HandleDestroy.self),
              let appendSum = f("dnnl_post_ops_append_sum", AppendSum.self),
              let setScratchpadMode = f("dnnl_primitive_attr_set_scratchpad_mode", SetScratchpadMode.self),
              let queryDesc = f("dnnl_primitive_desc_query_md", QueryDesc.self),
              let descSize = f("dnnl_memory_desc_get_size", DescSize.self) else { return nil }
        var engine: dnnl_engine_t? = nil
        guard engineCreate(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
        return Library(streamCreate: streamCreate, streamWait: streamWait, streamDestroy: streamDestroy, descInit: descInit,
                       matmulInit: matmulInit, pdCreate: pdCreate, pdDestroy: pdDestroy, primitiveCreate: primitiveCreate,
                       execute: execute, memoryCreate: memoryCreate, memoryDestroy: memoryDestroy,
                       attrCreate: attrCreate, attrDestroy: attrDestroy, attrSetPostOps: attrSetPostOps,
                       postOpsCreate: postOpsCreate, postOpsDestroy: postOpsDestroy, appendSum: appendSum,
                       setScratchpadMode: setScratchpadMode, queryDesc: queryDesc, descSize: descSize, engine: engine)
    }()

    /// One product's shape. `aTransposed`: A is stored [k × m] row-major; likewise B [n × k].
    /// `accumulate`: C += A·B (oneDNN's sum post-op) instead of C = A·B. `varying`: the dimension that is
    /// a batch's token count (m for y and dx, k for dW); the primitive is built with it as oneDNN's
    /// runtime dimension, so one primitive serves every batch. A primitive per token count grew the
    /// demo fine-tune's peak RSS by ≈ 500 MB (JIT code for hundreds of shapes); the runtime-dimension
    /// kernels (gemm:jit) also ran faster on the step's products here, 201 vs 188 GFLOP/s on one core.
    struct Shape: Hashable {
        enum Varying: Hashable { case none, m, k }
        let m, k, n: Int
        var aTransposed = false, bTransposed = false, bias = false, accumulate = false
        var varying = Varying.none

        /// What identifies the primitive: the varying dimension left out.
        var key: Shape {
            var s = Shape(m: varying == .m ? 0 : m, k: varying == .k ? 0 : k, n: n)
            s.aTransposed = aTransposed; s.bTransposed = bTransposed; s.bias = bias; s.accumulate = accumulate; s.varying = varying
            return s
        }
    }
    final class Primitive: @unchecked Sendable {
        var scratchpad = dnnl_memory_desc_t(), scratchpadBytes = 0
        var primitive: dnnl_primitive_t? = nil
    }
    /// A, B, bias and C descriptors for `shape`'s dimensions (`runtime`: the varying one as oneDNN's runtime value).
    static func descriptors(_ shape: Shape, runtime: Bool, _ lib: Library) -> [dnnl_memory_desc_t] {
        let m = runtime && shape.varying == .m ? Int64.min : Int64(shape.m)   // DNNL_RUNTIME_DIM_VAL
        let k = runtime && shape.varying == .k ? Int64.min : Int64(shape.k)
        var d = [dnnl_memory_desc_t](repeating: dnnl_memory_desc_t(), count: 4)
        var aDims = [m, k], bDims = [k, Int64(shape.n)], biasDims: [Int64] = [1, Int64(shape.n)], cDims = [m, Int64(shape.n)]
        check(lib.descInit(&d[0], 2, &aDims, dnnl_bf16, shape.aTransposed ? dnnl_ba : dnnl_ab), "A descriptor")
        check(lib.descInit(&d[1], 2, &bDims, dnnl_bf16, shape.bTransposed ? dnnl_ba : dnnl_ab), "B descriptor")
        check(lib.descInit(&d[2], 2, &biasDims, dnnl_f32, dnnl_ab), "bias descriptor")
        check(lib.descInit(&d[3], 2, &cDims, dnnl_f32, dnnl_ab), "C descriptor")
        return d
    }
    nonisolated(unsafe) static var primitives: [Shape: Primitive] = [:]
    static let lock = NSLock()

    static func check(_ status: dnnl_status_t, _ what: String) {
        precondition(status == dnnl_success, "oneDNN \(what) failed (status \(status.rawValue))")
    }

    /// The primitive for `shape`, created once. Its scratchpad is the caller's (`dnnl_scratchpad_mode_user`,
    /// one per run): with oneDNN's default the primitive owns one, and two workers running the same shape
    /// at once overwrote each other's — NaN after 14 training steps (BF16PrecisionTests catches it).
    static func primitive(_ shape: Shape, _ lib: Library) -> Primitive {
        let key = shape.key
        lock.lock(); defer { lock.unlock() }
        if let p = primitives[key] { return p }
        let p = Primitive()
        var d = descriptors(shape, runtime: true, lib)
        var desc = dnnl_matmul_desc_t()
        check(shape.bias ? lib.matmulInit(&desc, &d[0], &d[1], &d[2], &d[3]) : lib.matmulInit(&desc, &d[0], &d[1], nil, &d[3]),
              "matmul descriptor")
        var attr: OpaquePointer? = nil, postOps: OpaquePointer? = nil
        check(lib.attrCreate(&attr), "attributes")
        check(lib.setScratchpadMode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if shape.accumulate {
            check(lib.postOpsCreate(&postOps), "post-ops")
            check(lib.appendSum(postOps, 1), "sum post-op")
            check(lib.attrSetPostOps(attr, postOps), "post-op attribute")
        }
        var pd: dnnl_primitive_desc_t? = nil
        check(withUnsafePointer(to: &desc) { lib.pdCreate(&pd, UnsafeRawPointer($0), attr, lib.engine, nil) }, "matmul primitive descriptor")
        check(lib.primitiveCreate(&p.primitive, pd), "matmul primitive")
        if let md = lib.queryDesc(pd, dnnl_query_scratchpad_md, 0) {
            p.scratchpad = md.pointee
            p.scratchpadBytes = lib.descSize(md)
        }
        _ = lib.pdDestroy(pd)
        if let postOps { _ = lib.postOpsDestroy(postOps) }
        _ = lib.attrDestroy(attr)
        primitives[key] = p
        return p
    }

    /// Runs one product; `a`, `b` are bf16 bit patterns laid out as `shape` says.
    static func run(_ shape: Shape, a: UnsafePointer<UInt16>, b: UnsafePointer<UInt16>, bias: UnsafePointer<Float>? = nil,
                    c: UnsafeMutablePointer<Float>) {
        guard shape.m > 0, shape.n > 0, let lib = library else { return }
        precondition(shape.bias == (bias != nil), "bias pointer and shape disagree")
        let p = primitive(shape, lib)
        var d = descriptors(shape, runtime: false, lib)
        var stream: dnnl_stream_t? = nil
        check(lib.streamCreate(&stream, lib.engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        defer { _ = lib.streamDestroy(stream) }
        var memories: [dnnl_memory_t?] = [nil, nil, nil, nil, nil]
        let scratchpad = p.scratchpadBytes > 0 ? UnsafeMutableRawPointer.allocate(byteCount: p.scratchpadBytes, alignment: 64) : nil
        defer { scratchpad?.deallocate() }
        check(lib.memoryCreate(&memories[0], &d[0], lib.engine, UnsafeMutableRawPointer(mutating: a)), "A memory")
        check(lib.memoryCreate(&memories[1], &d[1], lib.engine, UnsafeMutableRawPointer(mutating: b)), "B memory")
        check(lib.memoryCreate(&memories[2], &d[3], lib.engine, UnsafeMutableRawPointer(c)), "C memory")
        if let bias { check(lib.memoryCreate(&memories[3], &d[2], lib.engine, UnsafeMutableRawPointer(mutating: bias)), "bias memory") }
        defer { memories.forEach { if $0 != nil { _ = lib.memoryDestroy($0) } } }
        // DNNL_ARG_SRC, _WEIGHTS, _DST, _BIAS (dnnl_types.h)
        var args = [dnnl_exec_arg_t(arg: 1, memory: memories[0]), dnnl_exec_arg_t(arg: 33, memory: memories[1]),
                    dnnl_exec_arg_t(arg: 17, memory: memories[2])]
        if bias != nil { args.append(dnnl_exec_arg_t(arg: 41, memory: memories[3])) }
        if let scratchpad {
            check(lib.memoryCreate(&memories[4], &p.scratchpad, lib.engine, scratchpad), "scratchpad memory")
            args.append(dnnl_exec_arg_t(arg: 80, memory: memories[4]))   // DNNL_ARG_SCRATCHPAD
        }
        check(lib.execute(p.primitive, stream, Int32(args.count), args), "matmul")
        check(lib.streamWait(stream), "stream wait")
    }
}
