// Tensor-core helpers shared by the mma kernels (attention_mma.cuh, gemm_skinny.cu): mma.sync.m16n8k16 with fp32
// accumulation for bf16 and f16 operands (sm_80+). Fragment layouts (PTX ISA, .row.col): lane = 4·g + t; A holds
// (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..); B holds (k 2t..2t+1, n g) and (k 2t+8.., n g); C holds
// (g, 2t..2t+1) and (g+8, 2t..2t+1).
#pragma once
#include "prelude.cuh"

template <typename T> PXL_DEVICE void mma_16816(float* c, const u32* a, const u32* b);

template <> PXL_DEVICE void mma_16816<bf16>(float* c, const u32* a, const u32* b)
{
#ifdef PXL_EMULATION // tests/CudaEmulator: the host forms of this file's inline PTX
    pxlemu_mma_16816(c, a, b, false);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

template <> PXL_DEVICE void mma_16816<half>(float* c, const u32* a, const u32* b)
{
#ifdef PXL_EMULATION
    pxlemu_mma_16816(c, a, b, true);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// Four 8×8 16-bit matrices from shared memory: lanes 8i..8i+7 give the addresses of matrix i's rows (16 bytes each);
// r[i] is matrix i's (row g, columns 2t..2t+1). TRANS: (rows 2t..2t+1, column g) instead, i.e. the transpose's fragment.
template <bool TRANS> PXL_DEVICE void pxl_ldmatrix_x4(u32* r, u32 address)
{
#ifdef PXL_EMULATION
    pxlemu_ldmatrix_x4(r, address, TRANS);
#else
    if (TRANS)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address) : "memory");
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address) : "memory");
#endif
}
