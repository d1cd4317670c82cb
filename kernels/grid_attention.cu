// GridAttentionOp on tensor cores (SAM's blocks): the block of attention_mma.cuh over one window (or the whole grid) of
// one head, reading q, k and v where they lie in the unpartitioned qkv map (B, H, W, 3·C), so no partition or
// un-partition copy is made: a token past the map's bottom/right edge reads the pad row (the qkv bias; zeros without
// one), as SAM's zero padding before its projection gives, and its output is not stored. The decomposed rel-pos terms
// are the block's own work, on tensor cores: each warp multiplies its 16 queries by both tables (Q·relHᵀ, Q·relWᵀ, all
// 2·S − 1 rows of each) into its rows of the term buffer, and a score of query (i, j) and key (m, n) adds
// row entry i + (Sh − 1 − m) of the first product and j + (Sw − 1 − n) of the second: SAM's
// relH[i − m + Sh − 1] and relW[j − n + Sw − 1] dotted with the unscaled q, with f32 accumulation, rounded to T as the op's steps store them.
// qkv rows and pad 16-byte aligned (cp.async), tables 4-byte; out (B, H, W, C) contiguous.
// Launch: grid = (ceil(Sh·Sw / (16·MMA_WARPS)), heads, B·windows), window z = (b·windows_h + wy)·windows_w + wx;
// dynamic shared memory as the header says, term_pitch ≥ (2·Sh − 1) + (2·Sw − 1).
#include "attention_mma.cuh"

template <typename T, int D> struct MmaGridRows
{
    const T *qkv, *pad, *rel_h, *rel_w;
    T* y;
    i64 image;
    i32 h, channels, height, width, span_h, span_w, y0, x0;

    // Token j of the window: its pixel's row of the map, or -1 past the map's edge.
    PXL_DEVICE i64 pixel(i32 j) const
    {
        const i32 i = j / span_w, py = y0 + i, px = x0 + (j - i * span_w);
        return py < height && px < width ? (image * height + py) * width + px : -1;
    }
    PXL_DEVICE const T* part(i32 j, i32 which) const
    {
        const i64 p = pixel(j);
        const i64 at = (i64)which * channels + (i64)h * D;
        return p >= 0 ? qkv + p * 3 * channels + at : pad ? pad + at : nullptr;
    }
    PXL_DEVICE const T* query(i32 r) const { return part(r, 0); }
    PXL_DEVICE void key_value(i32 j, const T*& key, const T*& value) const
    {
        key = part(j, 1);
        value = key ? key + channels : nullptr;
    }
    PXL_DEVICE const T* any_row() const { return qkv; }
    PXL_DEVICE T* out(i32 r) const
    {
        const i64 p = pixel(r);
        return p >= 0 ? y + p * channels + (i64)h * D : nullptr;
    }
    PXL_DEVICE bool terms() const { return rel_h != nullptr; }
    PXL_DEVICE u32 cell(i32 j) const
    {
        const i32 m = j / span_w;
        return (u32)(span_h - 1 - m) | ((u32)(span_w - 1 - (j - m * span_w)) << 16);
    }
    PXL_DEVICE i32 term_h(i32 r) const { return r / span_w; }
    PXL_DEVICE i32 term_w(i32 r) const { return 2 * span_h - 1 + r % span_w; }
    PXL_DEVICE void stage_terms(float*, i32, i32) const {}
    PXL_DEVICE u32 query_pair(const T* row, i32, i32 col) const { return mma_pair(row + col); }
    PXL_DEVICE void rotate_keys(T*, i32, i32) const {}

    // This warp's 16 rows of Q·tableᵀ for one table, 8 table rows a step; table rows past `length` are zeros.
    PXL_DEVICE void table_products(const u32 (&qa)[D / 16][4], const T* table, i32 length, float* rows, i32 pitch) const
    {
        const i32 lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
        for (i32 n0 = 0; n0 < length; n0 += 8)
        {
            const bool in = n0 + g < length;
            const T* row = table + (i64)min(n0 + g, length - 1) * D;
            float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int s = 0; s < D / 16; s++)
            {
                const u32 b[2] = {in ? mma_pair(row + 16 * s + 2 * t) : 0u, in ? mma_pair(row + 16 * s + 8 + 2 * t) : 0u};
                mma_16816<T>(c, qa[s], b);
            }
            // Rounded to T, as the op's RelPosBias step stores its terms: the same scores as the steps give.
            const i32 col = n0 + 2 * t;
            if (col < length)
            {
                rows[g * pitch + col] = to_float(from_float<T>(c[0]));
                rows[(g + 8) * pitch + col] = to_float(from_float<T>(c[2]));
            }
            if (col + 1 < length)
            {
                rows[g * pitch + col + 1] = to_float(from_float<T>(c[1]));
                rows[(g + 8) * pitch + col + 1] = to_float(from_float<T>(c[3]));
            }
        }
    }
    PXL_DEVICE void warp_terms(const u32 (&qa)[D / 16][4], float* rows, i32 pitch) const
    {
        if (!terms()) return;
        table_products(qa, rel_h, 2 * span_h - 1, rows, pitch);
        table_products(qa, rel_w, 2 * span_w - 1, rows + 2 * span_h - 1, pitch);
        __syncwarp();
    }
};

#define PXL_GRID_ATTENTION(D, suffix, T)                                                                              \
    extern "C" __global__ void __launch_bounds__(MMA_THREADS) grid_attention_d##D##_##suffix(                         \
        const T* qkv, const T* pad, const T* rel_h, const T* rel_w, T* y, i32 heads, i32 height, i32 width,           \
        i32 span_h, i32 span_w, i32 windows_h, i32 windows_w, float scale, i32 term_pitch)                           \
    { pxl_dependent_launch();                                                                                         \
        const i32 window = blockIdx.z % (windows_h * windows_w), wy = window / windows_w;                            \
        const MmaGridRows<T, D> rows{qkv, pad, rel_h, rel_w, y, (i64)(blockIdx.z / (windows_h * windows_w)),          \
                                     (i32)blockIdx.y, heads * D, height, width, span_h, span_w, wy * span_h,          \
                                     (window - wy * windows_w) * span_w};                                            \
        attention_mma_core<T, D>(rows, span_h * span_w, span_h * span_w, scale, (const T*)nullptr, Dims8{}, term_pitch); \
    }

PXL_GRID_ATTENTION(32, bf16, bf16)
PXL_GRID_ATTENTION(64, bf16, bf16)
PXL_GRID_ATTENTION(80, bf16, bf16)
PXL_GRID_ATTENTION(96, bf16, bf16)
PXL_GRID_ATTENTION(128, bf16, bf16)
PXL_GRID_ATTENTION(32, f16, half)
PXL_GRID_ATTENTION(64, f16, half)
PXL_GRID_ATTENTION(80, f16, half)
PXL_GRID_ATTENTION(96, f16, half)
PXL_GRID_ATTENTION(128, f16, half)
