// LinearOp for 9–64 rows in bf16/f16 (T5-XL's 40-row encoder GEMMs, the 22-row point rerun, beam search over many
// slots): y (M, N) = x (M, K) · W (N, K)ᵀ [+ bias (N)] [+ residual (M, N)]. Run 10a's profile had cuBLAS at 0.7–0.9 TB/s
// on these shapes: each weight byte is used by only M ≤ 64 rows, so the product is a stream of W, and it needs the
// whole card's loads in flight. Here W is read once, with 16-byte loads SK_DEPTH chunks ahead of the tensor cores
// (mma.sync m16n8k16, fp32 accumulate), and x (≤ 64 rows) is staged per 64-wide k chunk in shared memory.
// Block: SK_WARPS warps, SK_COLS output columns (16 a warp: two 8-column mma tiles), all M rows (up to 4 row tiles).
// Grid: (N / SK_COLS, splits): split s owns chunks [s·per_split, (s + 1)·per_split). With one split the block writes y;
// with more, each writes its fp32 partial (splits, M, N) and the last block of a column tile to arrive (a counter per
// tile, reset by that block) sums the partials in split order — the result does not depend on which block came last.
// The k order inside a chunk is permuted, identically for x and W, so the sum is unchanged: at k-step s lane (g, t) holds
// physical k 16t + 4s + {0, 1} where the fragment layout says logical 2t + {0, 1}, and 16t + 4s + {2, 3} for logical
// 2t + 8 + {0, 1}. A lane's W fragments for a chunk's four k-steps are then one contiguous 32-byte run of its W row (two
// 16-byte loads) and its x fragments 8-byte runs of the staged rows.
// Needs K and N multiples of 64, x and W 16-byte aligned (the host checks); residual may be y itself (each element is
// read before it is written, by the same thread).
// Launch: grid = (N / 64, splits, 1), block = (32·SK_WARPS, 1, 1).
#include "mma.cuh"

#define SK_WARPS 4
#define SK_COLS 64
#define SK_CHUNK 64
#define SK_MAX_ROWS 64
#define SK_DEPTH 4
#define SK_GROUP 8 // split partials a thread loads at once in the last block's sum
// Row pitch of the staged x in elements: 136 bytes, ≡ 8 mod 32, so a warp's 8-byte fragment reads (rows g, columns
// 16t + 4s) fall on every bank exactly twice — the minimum of two wavefronts for 256 bytes.
#define SK_PITCH 68

PXL_DEVICE u32 sk_word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

// Another block's partial sums: past L1 (which may not be coherent with them), straight from L2.
PXL_DEVICE float2 sk_load_cg(const float* p)
{
#ifdef PXL_EMULATION
    return pxlemu_load_volatile(reinterpret_cast<const float2*>(p));
#else
    float2 v;
    asm volatile("ld.global.cg.v2.f32 {%0, %1}, [%2];" : "=f"(v.x), "=f"(v.y) : "l"(p) : "memory");
    return v;
#endif
}

// The staged chunk c of x: up to SK_MAX_ROWS rows × 64 columns as 8-byte words; rows ≥ m are zeros.
PXL_DEVICE void sk_fetch_x(uint2* words, const uint2* __restrict__ x, i32 m, i32 k, i32 c, i32 tid)
{
#pragma unroll
    for (int i = 0; i < SK_MAX_ROWS * (SK_CHUNK / 4) / (32 * SK_WARPS); i++)
    {
        const i32 slot = tid + i * 32 * SK_WARPS, row = slot / (SK_CHUNK / 4), word = slot % (SK_CHUNK / 4);
        words[i] = row < m ? x[((i64)row * k + (i64)c * SK_CHUNK) / 4 + word] : make_uint2(0u, 0u);
    }
}

PXL_DEVICE void sk_store_x(uint2* __restrict__ xs, const uint2* words, i32 rows, i32 tid)
{
#pragma unroll
    for (int i = 0; i < SK_MAX_ROWS * (SK_CHUNK / 4) / (32 * SK_WARPS); i++)
    {
        const i32 slot = tid + i * 32 * SK_WARPS, row = slot / (SK_CHUNK / 4), word = slot % (SK_CHUNK / 4);
        if (row < rows) xs[row * (SK_PITCH / 4) + word] = words[i];
    }
}

// This lane's 32-byte runs of its two W rows (n0 + g, n0 + 8 + g) for chunk c.
PXL_DEVICE void sk_fetch_w(uint4* ring, const uint4* __restrict__ w, i32 k, i32 n0, i32 g, i32 t, i32 c)
{
    const uint4* a = w + ((i64)(n0 + g) * k + (i64)c * SK_CHUNK + 16 * t) / 8;
    const uint4* b = w + ((i64)(n0 + 8 + g) * k + (i64)c * SK_CHUNK + 16 * t) / 8;
    ring[0] = a[0];
    ring[1] = a[1];
    ring[2] = b[0];
    ring[3] = b[1];
}

// y (row, col..col+1) = the two sums + bias + residual, rounded once; residual may be y (read first, same thread).
template <typename T>
PXL_DEVICE void sk_finish(T* y, const T* bias, const T* residual, i32 n, i32 row, i32 col, float v0, float v1)
{
    if (bias) { v0 += to_float(bias[col]); v1 += to_float(bias[col + 1]); }
    if (residual) { v0 += to_float(residual[(i64)row * n + col]); v1 += to_float(residual[(i64)row * n + col + 1]); }
    y[(i64)row * n + col] = from_float<T>(v0);
    y[(i64)row * n + col + 1] = from_float<T>(v1);
}

template <typename T>
PXL_DEVICE void gemm_skinny_block(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                  const T* residual, T* y, float* __restrict__ partial,
                                  u32* __restrict__ counters, i32 m, i32 n, i32 k, i32 per_split)
{
    __shared__ __align__(16) T xs[2][SK_MAX_ROWS * SK_PITCH];
    __shared__ u32 arrived;
    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const i32 n0 = blockIdx.x * SK_COLS + warp * 16;
    const i32 first = blockIdx.y * per_split, end = min(k / SK_CHUNK, first + per_split);
    const i32 tiles = (m + 15) / 16, rows = tiles * 16;
    const uint2* x2 = reinterpret_cast<const uint2*>(x);
    const uint4* w4 = reinterpret_cast<const uint4*>(w);

    float acc[SK_MAX_ROWS / 16][2][4];
#pragma unroll
    for (int mt = 0; mt < SK_MAX_ROWS / 16; mt++)
#pragma unroll
        for (int nt = 0; nt < 2; nt++) acc[mt][nt][0] = acc[mt][nt][1] = acc[mt][nt][2] = acc[mt][nt][3] = 0.0f;

    uint4 ring[SK_DEPTH][4];
#pragma unroll
    for (int d = 0; d < SK_DEPTH; d++)
        if (first + d < end) sk_fetch_w(ring[d], w4, k, n0, g, t, first + d);
    uint2 words[SK_MAX_ROWS * (SK_CHUNK / 4) / (32 * SK_WARPS)];
    if (first < end) sk_fetch_x(words, x2, m, k, first, tid);

    for (i32 base = first; base < end; base += SK_DEPTH)
    {
#pragma unroll
        for (int d = 0; d < SK_DEPTH; d++)
        {
            const i32 c = base + d;
            if (c >= end) break; // the same for every thread of the block
            T* stage = xs[c & 1];
            // Chunk c goes into one buffer while chunk c − 1 may still be read from the other; the barrier of step
            // c − 1 already ordered every read of this buffer (chunk c − 2) before these writes.
            sk_store_x(reinterpret_cast<uint2*>(stage), words, rows, tid);
            __syncthreads();
            if (c + 1 < end) sk_fetch_x(words, x2, m, k, c + 1, tid);
#pragma unroll
            for (int s = 0; s < SK_CHUNK / 16; s++)
            {
                const u32 b0[2] = {sk_word(ring[d][s >> 1], 2 * (s & 1)), sk_word(ring[d][s >> 1], 2 * (s & 1) + 1)};
                const u32 b1[2] = {sk_word(ring[d][2 + (s >> 1)], 2 * (s & 1)), sk_word(ring[d][2 + (s >> 1)], 2 * (s & 1) + 1)};
#pragma unroll
                for (int mt = 0; mt < SK_MAX_ROWS / 16; mt++)
                    if (mt < tiles)
                    {
                        const uint2 lo = *reinterpret_cast<const uint2*>(stage + (16 * mt + g) * SK_PITCH + 16 * t + 4 * s);
                        const uint2 hi = *reinterpret_cast<const uint2*>(stage + (16 * mt + 8 + g) * SK_PITCH + 16 * t + 4 * s);
                        const u32 a[4] = {lo.x, hi.x, lo.y, hi.y};
                        mma_16816<T>(acc[mt][0], a, b0);
                        mma_16816<T>(acc[mt][1], a, b1);
                    }
            }
            if (c + SK_DEPTH < end) sk_fetch_w(ring[d], w4, k, n0, g, t, c + SK_DEPTH);
        }
    }

    // C fragment: (row g, columns 2t, 2t + 1) and (row g + 8, the same columns) of each 16 × 8 tile. One split writes y;
    // several write their partial sums first.
    const i32 splits = gridDim.y;
    float* mine = partial + (i64)blockIdx.y * m * n;
#pragma unroll
    for (int mt = 0; mt < SK_MAX_ROWS / 16; mt++)
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int h = 0; h < 2; h++)
            {
                const i32 row = 16 * mt + 8 * h + g, col = n0 + 8 * nt + 2 * t;
                if (!(mt < tiles && row < m)) continue;
                if (splits == 1) sk_finish(y, bias, residual, n, row, col, acc[mt][nt][2 * h], acc[mt][nt][2 * h + 1]);
                else *reinterpret_cast<float2*>(mine + (i64)row * n + col) = make_float2(acc[mt][nt][2 * h], acc[mt][nt][2 * h + 1]);
            }
    if (splits == 1) return;
    // Hand-off as handoff.cuh's: the barrier orders every thread's partial stores before thread 0's fence and count.
    __syncthreads();
    if (tid == 0)
    {
        __threadfence();
        arrived = atomicAdd(&counters[blockIdx.x], 1u);
        __threadfence();
    }
    __syncthreads();
    if (arrived != (u32)splits - 1) return;
    // The last block adds the splits' partials in split order. Every load of a group of SK_GROUP splits, for two items,
    // is issued before the first add: one L2 round trip per group, where a load-add loop paid one per split.
    const i32 col0 = blockIdx.x * SK_COLS, items = m * (SK_COLS / 2);
    for (i32 i = tid; i < items; i += 2 * blockDim.x)
    {
        const i32 j = i + blockDim.x;
        const i32 row_i = i / (SK_COLS / 2), col_i = col0 + 2 * (i % (SK_COLS / 2));
        const i32 row_j = j / (SK_COLS / 2), col_j = col0 + 2 * (j % (SK_COLS / 2));
        float2 sum_i = make_float2(0.0f, 0.0f), sum_j = make_float2(0.0f, 0.0f);
        for (i32 s0 = 0; s0 < splits; s0 += SK_GROUP)
        {
            float2 part_i[SK_GROUP], part_j[SK_GROUP];
#pragma unroll
            for (int u = 0; u < SK_GROUP; u++)
            {
                const i32 s = s0 + u;
                part_i[u] = s < splits ? sk_load_cg(partial + ((i64)s * m + row_i) * n + col_i) : make_float2(0.0f, 0.0f);
                part_j[u] = s < splits && j < items ? sk_load_cg(partial + ((i64)s * m + row_j) * n + col_j) : make_float2(0.0f, 0.0f);
            }
#pragma unroll
            for (int u = 0; u < SK_GROUP; u++)
                if (s0 + u < splits)
                {
                    sum_i.x += part_i[u].x;
                    sum_i.y += part_i[u].y;
                    sum_j.x += part_j[u].x;
                    sum_j.y += part_j[u].y;
                }
        }
        sk_finish(y, bias, residual, n, row_i, col_i, sum_i.x, sum_i.y);
        if (j < items) sk_finish(y, bias, residual, n, row_j, col_j, sum_j.x, sum_j.y);
    }
    if (tid == 0) counters[blockIdx.x] = 0u; // ready for the next launch
}

#define PXL_GEMM_SKINNY(suffix, T)                                                                                      \
    extern "C" __global__ void __launch_bounds__(SK_WARPS * 32) gemm_skinny_##suffix(                                   \
        const T* x, const T* w, const T* bias, const T* residual, T* y, float* partial, u32* counters, i32 m, i32 n,   \
        i32 k, i32 per_split)                                                                                           \
    { pxl_dependent_launch();                                                                                           \
        gemm_skinny_block<T>(x, w, bias, residual, y, partial, counters, m, n, k, per_split);                          \
    }

PXL_GEMM_SKINNY(bf16, bf16)
PXL_GEMM_SKINNY(f16, half)
