#!/usr/bin/python3
"""Desk check of kernels/attention_mma.cu without a GPU (session 19): a lane-by-lane numpy emulation of the kernel's own
index math (its ldmatrix rows, both cp.async stages with the zero-fill, the key cells and staged rel-pos terms, the
online softmax in log2 units, probabilities rounded to bf16 before P.V) over the PTX ISA's definitions of ldmatrix
(.trans or not) and mma.m16n8k16 fragments, compared with float64 attention.

Usage: /usr/bin/python3 bench/gpu/desk/attention_mma_emulation.py [SEED] [--real]
  (Debian's python3-numpy; --real adds EVA02's 730 tokens at D 64 and SAM's 14x14 windows at D 80, ~10 s.)
Exit 0 when every case is within 2e-2 (bf16 probabilities give ~1e-3). It mirrors the kernel by hand: after editing the
kernel, edit this the same way; a deliberate index mutation here should fail it.
"""
import numpy as np, sys
args = [a for a in sys.argv[1:] if not a.startswith('--')]
rng = np.random.default_rng(int(args[0]) if args else 0)
WARPS, ROWS, KEYS, LOG2E = 4, 64, 64, 1.4426950408889634

def bf16(x):  # round to nearest even bf16
    x = np.asarray(x, np.float32); u = x.view(np.uint32).astype(np.uint64)
    u = ((u + 0x7fff + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)

def ldmatrix(smem, addrs, trans):  # addrs: 32 element offsets; returns r[lane][i] = (lo, hi)
    out = [[None]*4 for _ in range(32)]
    for i in range(4):
        rows = [smem[addrs[8*i + r]: addrs[8*i + r] + 8] for r in range(8)]
        for l in range(32):
            g, t = l >> 2, l & 3
            out[l][i] = (rows[2*t][g], rows[2*t+1][g]) if trans else (rows[g][2*t], rows[g][2*t+1])
    return out

def mma(c, a, b):  # c[l] 4 floats, a[l] 4 pairs, b[l] 2 pairs -> c += A·B
    A = np.zeros((16, 16)); B = np.zeros((16, 8)); C = np.zeros((16, 8))
    for l in range(32):
        g, t = l >> 2, l & 3
        A[g, 2*t:2*t+2] = a[l][0]; A[g+8, 2*t:2*t+2] = a[l][1]; A[g, 2*t+8:2*t+10] = a[l][2]; A[g+8, 2*t+8:2*t+10] = a[l][3]
        B[2*t:2*t+2, g] = b[l][0]; B[2*t+8:2*t+10, g] = b[l][1]
        C[g, 2*t:2*t+2] = c[l][0:2]; C[g+8, 2*t:2*t+2] = c[l][2:4]
    D = A @ B + C
    for l in range(32):
        g, t = l >> 2, l & 3
        c[l][0:2] = D[g, 2*t:2*t+2]; c[l][2:4] = D[g+8, 2*t:2*t+2]

def run(B, H, lq, lk, D, q_row, k_row, v_row, qoff, koff, voff, scale, bias, bstr, terms_n):
    P = D + 8; TILE = KEYS * P
    Q = rng.standard_normal(B * lq * q_row + 64).astype(np.float32)
    KV = rng.standard_normal(B * lk * max(k_row, v_row) + 4096).astype(np.float32)
    Q, KV = bf16(Q), bf16(KV)
    K, V = KV, KV  # may alias: packed
    y = np.full((B, lq, H * D), np.nan)
    kh, kw = (bstr[4], bstr[5])
    term_pitch = terms_n | 1 if terms_n else 0
    for b in range(B):
        for h in range(H):
            for bx in range((lq + ROWS - 1) // ROWS):
                smem = np.full(4 * TILE, np.nan); cells = np.zeros(2 * KEYS, np.int64); terms = np.full(ROWS * max(term_pitch, 1), np.nan)
                tiles = (lk + KEYS - 1) // KEYS
                def stage(buf, first):
                    for i in range(KEYS * (D // 8)):
                        key, c = i // (D // 8), (i % (D // 8)) * 8
                        inn = first + key < lk; j = first + key if inn else 0
                        ka = koff + (b * lk + j) * k_row + h * D + c; va = voff + (b * lk + j) * v_row + h * D + c
                        smem[buf*TILE + key*P + c: buf*TILE + key*P + c + 8] = K[ka:ka+8] if inn else 0
                        smem[(2+buf)*TILE + key*P + c: (2+buf)*TILE + key*P + c + 8] = V[va:va+8] if inn else 0
                    if kh:
                        for i in range(KEYS):
                            j = min(first + i, lk - 1); m = j // kw; cells[buf*KEYS + i] = m | ((j - m*kw) << 16)
                stage(0, 0)
                block_row0 = bx * ROWS
                if kh:
                    for i in range(ROWS * terms_n):
                        r, c = i // terms_n, i % terms_n
                        terms[r*term_pitch + c] = bias[b*bstr[0] + h*bstr[1] + min(block_row0 + r, lq - 1)*bstr[2] + c]
                warps = []
                for w in range(WARPS):
                    row0 = block_row0 + w * 16
                    qa = []
                    for s in range(D // 16):
                        frag = []
                        for l in range(32):
                            g, t = l >> 2, l & 3
                            def pair(row, col, ok):
                                a = qoff + (b*lq + min(row, lq-1))*q_row + h*D + col
                                return tuple(Q[a:a+2]) if ok else (0.0, 0.0)
                            frag.append([pair(row0+g, 16*s+2*t, row0+g < lq), pair(row0+g+8, 16*s+2*t, row0+g+8 < lq),
                                         pair(row0+g, 16*s+8+2*t, row0+g < lq), pair(row0+g+8, 16*s+8+2*t, row0+g+8 < lq)])
                        qa.append(frag)
                    warps.append(dict(row0=row0, qa=qa, o=[[[0.0]*4 for _ in range(32)] for _ in range(D//8)],
                                      mx=[[-np.inf, -np.inf] for _ in range(32)], sm=[[0.0, 0.0] for _ in range(32)]))
                for tile in range(tiles):
                    buf, first = tile & 1, tile * KEYS
                    if tile + 1 < tiles: stage(buf ^ 1, first + KEYS)
                    for w, W in enumerate(warps):
                        if W['row0'] >= lq: continue
                        kl = [(((l>>3)>>1)*8 + (l&7))*P + ((l>>3)&1)*8 for l in range(32)]
                        vl = [(((l>>3)&1)*8 + (l&7))*P + ((l>>3)>>1)*8 for l in range(32)]
                        s = [[[0.0]*4 for _ in range(32)] for _ in range(KEYS//8)]
                        for n in range(0, KEYS//8, 2):
                            for st in range(D//16):
                                kb = ldmatrix(smem, [buf*TILE + a + n*8*P + st*16 for a in kl], False)
                                mma(s[n], W['qa'][st], [[kb[l][0], kb[l][1]] for l in range(32)])
                                mma(s[n+1], W['qa'][st], [[kb[l][2], kb[l][3]] for l in range(32)])
                        for l in range(32):
                            g, t = l >> 2, l & 3
                            for n in range(KEYS//8):
                                for e in range(2):
                                    c = n*8 + 2*t + e; j = first + c
                                    lo, hi = s[n][l][e]*scale*LOG2E, s[n][l][2+e]*scale*LOG2E
                                    if kh:
                                        cell = cells[buf*KEYS + c]; m, ww = cell & 0xffff, kh + (cell >> 16)
                                        rl, rh = (w*16+g)*term_pitch, (w*16+g+8)*term_pitch
                                        lo += (terms[rl+m] + terms[rl+ww]) * LOG2E; hi += (terms[rh+m] + terms[rh+ww]) * LOG2E
                                    elif bias is not None and j < lk:
                                        rlo = b*bstr[0] + h*bstr[1] + min(W['row0']+g, lq-1)*bstr[2]
                                        rhi = b*bstr[0] + h*bstr[1] + min(W['row0']+g+8, lq-1)*bstr[2]
                                        lo += bias[rlo + j*bstr[3]]*LOG2E; hi += bias[rhi + j*bstr[3]]*LOG2E
                                    if j >= lk: lo = hi = -np.inf
                                    s[n][l][e], s[n][l][2+e] = lo, hi
                        for l in range(32):  # quad max, per lane (the four lanes of a quad share rows)
                            quad = [l - (l & 3) + i for i in range(4)]
                            tl = max(s[n][x][e] for x in quad for n in range(KEYS//8) for e in range(2))
                            th = max(s[n][x][2+e] for x in quad for n in range(KEYS//8) for e in range(2))
                            W.setdefault('tm', {})[l] = (tl, th)
                        for l in range(32):
                            tl, th = W['tm'][l]; ml, mh = W['mx'][l]
                            nl, nh = max(ml, tl), max(mh, th)
                            kl_ = 1.0 if nl == -np.inf else 2.0**(ml - nl); kh_ = 1.0 if nh == -np.inf else 2.0**(mh - nh)
                            W['mx'][l] = [nl, nh]; al = ah = 0.0
                            for n in range(KEYS//8):
                                for e in range(2):
                                    pl = 0.0 if nl == -np.inf else 2.0**(s[n][l][e] - nl); ph = 0.0 if nh == -np.inf else 2.0**(s[n][l][2+e] - nh)
                                    s[n][l][e], s[n][l][2+e] = pl, ph; al += pl; ah += ph
                            W['sm'][l] = [W['sm'][l][0]*kl_ + al, W['sm'][l][1]*kh_ + ah]
                            for n in range(D//8):
                                W['o'][n][l][0] *= kl_; W['o'][n][l][1] *= kl_; W['o'][n][l][2] *= kh_; W['o'][n][l][3] *= kh_
                        for st in range(KEYS//16):
                            pa = [[tuple(bf16(s[2*st][l][0:2])), tuple(bf16(s[2*st][l][2:4])), tuple(bf16(s[2*st+1][l][0:2])), tuple(bf16(s[2*st+1][l][2:4]))] for l in range(32)]
                            for n in range(0, D//8, 2):
                                vb = ldmatrix(smem, [(2+buf)*TILE + a + st*16*P + n*8 for a in vl], True)
                                mma(W['o'][n], pa, [[vb[l][0], vb[l][1]] for l in range(32)])
                                mma(W['o'][n+1], pa, [[vb[l][2], vb[l][3]] for l in range(32)])
                for w, W in enumerate(warps):
                    if W['row0'] >= lq: continue
                    for l in range(32):
                        g, t = l >> 2, l & 3
                        quad = [l - (l & 3) + i for i in range(4)]
                        sl = sum(W['sm'][x][0] for x in quad); sh = sum(W['sm'][x][1] for x in quad)
                        for n in range(D//8):
                            if W['row0']+g < lq: y[b, W['row0']+g, h*D + n*8+2*t: h*D+n*8+2*t+2] = np.array(W['o'][n][l][0:2]) / sl
                            if W['row0']+g+8 < lq: y[b, W['row0']+g+8, h*D + n*8+2*t: h*D+n*8+2*t+2] = np.array(W['o'][n][l][2:4]) / sh
    # float64 reference
    ref = np.zeros_like(y)
    for b in range(B):
        for h in range(H):
            q = np.array([[Q[qoff + (b*lq+i)*q_row + h*D + d] for d in range(D)] for i in range(lq)], np.float64)
            k = np.array([[K[koff + (b*lk+j)*k_row + h*D + d] for d in range(D)] for j in range(lk)], np.float64)
            v = np.array([[V[voff + (b*lk+j)*v_row + h*D + d] for d in range(D)] for j in range(lk)], np.float64)
            sc = q @ k.T * scale
            if bias is not None:
                for i in range(lq):
                    row = b*bstr[0] + h*bstr[1] + i*bstr[2]
                    for j in range(lk):
                        sc[i, j] += (bias[row + j // kw] + bias[row + kh + j % kw]) if kh else bias[row + j*bstr[3]]
            p = np.exp(sc - sc.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
            ref[b, :, h*D:(h+1)*D] = p @ v
    err = np.abs(y - ref).max()
    print(f"B={B} H={H} lq={lq} lk={lk} D={D} bias={'grid' if kh else ('full' if bias is not None else 'none')}: max abs err {err:.2e}, nan {np.isnan(y).sum()}")
    return err

errs = []
# EVA02-like packed q|k|v, D=64, partial last query and key tiles
H, D = 2, 64; row = 3*H*D
errs.append(run(1, H, 100, 100, D, row, row, row, 0, H*D, 2*H*D, 0.125, None, [0]*6, 0))
# SAM-like windows: packed, D=80, key grid 7x7 (49 keys), decomposed terms (B, H, Lq, 14)
H, D, B, L = 2, 80, 2, 49; row = 3*H*D
bias = rng.standard_normal(B*H*L*14)
errs.append(run(B, H, L, L, D, row, row, row, 0, H*D, 2*H*D, 0.11, bias, [H*L*14, L*14, 14, 0, 7, 7], 14))
# separate q/k/v (not packed), D=32, more keys than one tile + a full bias, lq 70 (two query blocks), grid 9x10 keys
H, D, B, lq, lk = 3, 32, 1, 70, 130
bias = rng.standard_normal(B*H*lq*lk)
errs.append(run(B, H, lq, lk, D, H*D, H*D, H*D, 0, 0, 0, 0.2, bias, [H*lq*lk, lq*lk, lk, 1, 0, 0], 0))
H, D, B, lq, lk = 1, 96, 1, 20, 90
bias = rng.standard_normal(B*H*lq*19)
errs.append(run(B, H, lq, lk, D, H*D, H*D, H*D, 0, 0, 0, 0.1, bias, [0, 0, 19, 0, 9, 10], 19))
if "--real" in sys.argv:
    H, D = 1, 64; row = 3*H*D
    errs.append(run(1, H, 730, 730, D, row, row, row, 0, H*D, 2*H*D, 0.125, None, [0]*6, 0))
    H, D, B, L = 1, 80, 1, 196; row = 3*H*D
    bias = rng.standard_normal(B*H*L*28)
    errs.append(run(B, H, L, L, D, row, row, row, 0, H*D, 2*H*D, 0.11, bias, [H*L*28, L*28, 28, 0, 14, 14], 28))
print("max", max(errs)); sys.exit(0 if max(errs) < 2e-2 else 1)
