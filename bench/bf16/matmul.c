// Issue #10, item 4: is a bf16 path worth building? Times Debian's oneDNN matmul on all-MiniLM-L6-v2's
// training-step products (the same 24 shapes as `ember bench sgemm`: forward, dX and dW of the four
// linear layers at T = 2048 and 512 tokens) in fp32 and in bf16 (bf16 inputs, fp32 output), and the cost
// of what a bf16 path adds: converting each product's fp32 activation operand to bf16 (weights would be
// converted once per optimiser step). Prints one JSON line. Built and run by bench/bf16/run.sh.
#include <dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { int ta, tb; long m, n, k; } shape_t;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define CHECK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { fprintf(stderr, "%s: %d\n", #x, s_); exit(1); } } while (0)

static uint16_t to_bf16(float f) {  // round to nearest even
    uint32_t u; memcpy(&u, &f, 4); u += 0x7fff + ((u >> 16) & 1); return (uint16_t)(u >> 16);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    shape_t shapes[24]; int ns = 0;
    long Ts[2] = {2048, 512}, io[4][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    for (int t = 0; t < 2; t++) for (int l = 0; l < 4; l++) {
        long T = Ts[t], in = io[l][0], out = io[l][1];
        shapes[ns++] = (shape_t){0, 1, T, out, in};   // y = x·Wᵀ
        shapes[ns++] = (shape_t){0, 0, T, in, out};   // dx = dy·W
        shapes[ns++] = (shape_t){1, 0, out, in, T};   // dW = dyᵀ·x
    }
    dnnl_engine_t engine; CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    dnnl_stream_t stream; CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    long maxe = 2048 * 1536;
    float *a = malloc(maxe * 4), *b = malloc(maxe * 4), *c = malloc(maxe * 4);
    uint16_t *a16 = malloc(maxe * 2), *b16 = malloc(maxe * 2);
    for (long i = 0; i < maxe; i++) { a[i] = (i % 97) / 97.0f - 0.5f; b[i] = (i % 89) / 89.0f - 0.5f; }
    for (long i = 0; i < maxe; i++) { a16[i] = to_bf16(a[i]); b16[i] = to_bf16(b[i]); }
    double flops = 0;
    for (int s = 0; s < ns; s++) flops += 2.0 * shapes[s].m * shapes[s].n * shapes[s].k;
    double best[2] = {1e30, 1e30}, convert = 1e30;
    for (int type = 0; type < 2; type++) {
        dnnl_data_type_t dt = type ? dnnl_bf16 : dnnl_f32;
        dnnl_primitive_t prims[24]; dnnl_memory_t mem[24][3];
        for (int s = 0; s < ns; s++) {
            shape_t h = shapes[s];
            dnnl_memory_desc_t amd, bmd, cmd;
            dnnl_dims_t ad = {h.m, h.k}, bd = {h.k, h.n}, cd = {h.m, h.n};
            CHECK(dnnl_memory_desc_init_by_tag(&amd, 2, ad, dt, h.ta ? dnnl_ba : dnnl_ab));
            CHECK(dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dt, h.tb ? dnnl_ba : dnnl_ab));
            CHECK(dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab));
            dnnl_matmul_desc_t md; CHECK(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd));
            dnnl_primitive_desc_t pd; CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL));
            CHECK(dnnl_primitive_create(&prims[s], pd));
            if (type == 0 && s == 0) { const char *impl; dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl); fprintf(stderr, "fp32 impl %s\n", impl); }
            if (type == 1 && s == 0) { const char *impl; dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl); fprintf(stderr, "bf16 impl %s\n", impl); }
            dnnl_primitive_desc_destroy(pd);
            CHECK(dnnl_memory_create(&mem[s][0], &amd, engine, type ? (void *)a16 : (void *)a));
            CHECK(dnnl_memory_create(&mem[s][1], &bmd, engine, type ? (void *)b16 : (void *)b));
            CHECK(dnnl_memory_create(&mem[s][2], &cmd, engine, c));
        }
        for (int r = 0; r <= runs; r++) {
            double t0 = now();
            for (int s = 0; s < ns; s++) {
                dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mem[s][0]}, {DNNL_ARG_WEIGHTS, mem[s][1]}, {DNNL_ARG_DST, mem[s][2]}};
                CHECK(dnnl_primitive_execute(prims[s], stream, 3, args));
            }
            CHECK(dnnl_stream_wait(stream));
            double t = now() - t0;
            if (r > 0 && t < best[type]) best[type] = t;
        }
    }
    // A bf16 path converts every product's activation operand (the m×k or k×n side that is not a weight).
    for (int r = 0; r <= runs; r++) {
        double t0 = now();
        for (int s = 0; s < ns; s++) {
            long count = shapes[s].ta ? shapes[s].k * shapes[s].n : shapes[s].m * shapes[s].k;
            if (shapes[s].ta) count += shapes[s].m * shapes[s].k;   // dW: both operands are activations
            for (long off = 0; off < count; off += maxe) {
                long n = count - off < maxe ? count - off : maxe;
                #pragma omp parallel for
                for (long i = 0; i < n; i++) a16[i] = to_bf16(a[i]);
            }
        }
        double t = now() - t0;
        if (r > 0 && t < convert) convert = t;
    }
    printf("{\"gflop_per_pass\": %.1f, \"onednn_fp32_gflops\": %.1f, \"onednn_bf16_gflops\": %.1f, "
           "\"convert_s\": %.4f, \"bf16_with_conversion_gflops\": %.1f, \"dnnl_version\": \"%d.%d.%d\"}\n",
           flops / 1e9, flops / best[0] / 1e9, flops / best[1] / 1e9, convert, flops / (best[1] + convert) / 1e9,
           dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
    return 0;
}
