// RoiAlignOp, scenic's multi-level RoIAlign (errata E5): boxes (N, 4) XYXY in their map's coordinates, i32 map ids (N),
// up to 8 channels-last maps (1, H, W, C) passed as addresses → y (N, S, S, C). Per box side, S·R samples at
// (k + ½) / (S·R / (hi − lo)) + lo − ½; of each sample's two linear taps floor and floor + 1, one outside the map is
// dropped (not clamped); a bin is the mean of its R×R samples; a map id outside [0, maps) gives zeros. Every step is
// rounded like the CPU backend's RoiAlign (fp32, no FMA contraction) and the taps are summed in its order (row taps
// outer, column taps inner), so f32 storage reproduces it bit for bit. One thread per output element, channels
// fastest (coalesced reads of a tap's channel row). Launch: any 1-D grid over N·S·S·C.
#include "prelude.cuh"

// One sample's linear taps along a side: the lower index and the weights of it and of the next, each already / samples.
struct RoiTaps
{
    i32 first;
    float low, high;
};

PXL_DEVICE RoiTaps roi_taps(i32 k, float lo, float scale, i32 samples)
{
    const float at = __fsub_rn(__fadd_rn(__fdiv_rn(__fadd_rn((float)k, 0.5f), scale), lo), 0.5f);
    const float first = floorf(at), upper = __fsub_rn(at, first);
    RoiTaps t;
    t.first = (i32)first; // saturating, as .NET's float → int
    t.low = __fdiv_rn(__fsub_rn(1.0f, upper), (float)samples);
    t.high = __fdiv_rn(upper, (float)samples);
    return t;
}

// Whether tap `which` (0: first, 1: first + 1) lies in [0, extent), written so first + 1 cannot overflow.
PXL_DEVICE bool roi_tap_inside(i32 first, i32 which, i32 extent)
{
    return which == 0 ? first >= 0 && first < extent : first >= -1 && first < extent - 1;
}

// Entry `index` of a by-value Dims8, read at constant offsets so the struct stays in the parameter bank (a runtime
// index would copy all three tables to the stack of every thread).
PXL_DEVICE i64 roi_pick(const Dims8& table, i32 index)
{
    i64 value = 0;
#pragma unroll
    for (i32 m = 0; m < PXL_MAX_RANK; m++)
        if (m == index) value = table.v[m];
    return value;
}

template <typename T>
PXL_DEVICE float roi_align_at(const T* __restrict__ boxes, const i32* __restrict__ ids, const Dims8& maps,
                              const Dims8& heights, const Dims8& widths, i64 i, i32 map_count, i32 size, i32 samples,
                              i32 channels)
{
    const i32 c = (i32)(i % channels);
    const i64 bin = i / channels;
    const i32 ox = (i32)(bin % size), oy = (i32)(bin / size % size);
    const i64 n = bin / size / size;
    const i32 id = ids[n];
    if (id < 0 || id >= map_count) return 0.0f;
    const T* map = (const T*)roi_pick(maps, id);
    const i32 height = (i32)roi_pick(heights, id), width = (i32)roi_pick(widths, id);
    const float x0 = to_float(boxes[4 * n]), y0 = to_float(boxes[4 * n + 1]);
    const float x1 = to_float(boxes[4 * n + 2]), y1 = to_float(boxes[4 * n + 3]);
    const float per_side = (float)(size * samples);
    // A zero-width side divides by zero: scale = ∞ puts every sample at lo − ½, as on the CPU.
    const float scale_y = __fdiv_rn(per_side, __fsub_rn(y1, y0)), scale_x = __fdiv_rn(per_side, __fsub_rn(x1, x0));
    float sum = 0.0f;
    for (i32 sy = 0; sy < samples; sy++)
    {
        const RoiTaps row = roi_taps(oy * samples + sy, y0, scale_y, samples);
        for (i32 a = 0; a < 2; a++)
        {
            if (!roi_tap_inside(row.first, a, height)) continue;
            const float wy = a == 0 ? row.low : row.high;
            const T* map_row = map + (i64)(row.first + a) * width * channels + c;
            for (i32 sx = 0; sx < samples; sx++)
            {
                const RoiTaps col = roi_taps(ox * samples + sx, x0, scale_x, samples);
                for (i32 b = 0; b < 2; b++)
                {
                    if (!roi_tap_inside(col.first, b, width)) continue;
                    const float w = __fmul_rn(wy, b == 0 ? col.low : col.high);
                    sum = __fadd_rn(sum, __fmul_rn(to_float(map_row[(i64)(col.first + b) * channels]), w));
                }
            }
        }
    }
    return sum;
}

#define PXL_ROI_ALIGN(suffix, T)                                                                                  \
    extern "C" __global__ void roi_align_##suffix(const T* boxes, const i32* ids, T* y, Dims8 maps, Dims8 heights, \
                                                  Dims8 widths, i64 n, i32 map_count, i32 size, i32 samples,      \
                                                  i32 channels)                                                   \
    { pxl_dependent_launch();                                                                                     \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                \
            y[i] = from_float<T>(roi_align_at<T>(boxes, ids, maps, heights, widths, i, map_count, size, samples, channels)); \
    }

PXL_ROI_ALIGN(f32, float)
PXL_ROI_ALIGN(bf16, bf16)
PXL_ROI_ALIGN(f16, half)
