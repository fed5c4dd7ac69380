// Symmetric Cauchy product (S4 DPLR): out[b,l] = sum_n v/(z_l - w) + conj(v)/(z_l - conj(w)).
//
// Forward: one block per (batch row, tile of kThreads*kItems nodes). v and w are staged in shared
// memory in tiles of kThreads pairs, so any N works. Each thread keeps kItems nodes in registers
// and reads each pair once per tile (a shared-memory broadcast), using the real form
//   v/(z-w) + conj(v)/(z-conj w) = [2 Re v (z_r - w_r) - 2 Im v Im w + 2i Re v z_i] / den,
//   den = (z-w)(z-conj w) = (p^2 - q1 q2) + 2i p z_i,  p = z_r - w_r, q1,2 = z_i -/+ w_i,
// which needs one reciprocal per pair instead of two complex divisions, and is written in the
// differences p, q1, q2 so nothing cancels catastrophically near a pole (unlike z^2 - 2 Re(w) z
// + |w|^2). Mode 1 computes sum_n v/(z-w)^2 + conj(v)/(z-conj w)^2 instead (for dz).
//
// Backward: one block per (batch row, tile of 32 pairs, chunk of kBwdChunk nodes). Lane = pair,
// warp = a strided subset of the chunk's nodes (each warp reads one node at a time: a broadcast
// load). Per-chunk partial sums of dv and s2 = sum g conj(r1)^2 + conj(g) r2^2 go to a
// (batch, chunks, N) buffer that the launcher sums (deterministic, no atomics).
#include "common.cuh"

namespace {

using lrnnx::is_complex;

constexpr int kThreads = 256;
constexpr int kItems = 4;
constexpr int kBwdWarps = 8;
constexpr int kBwdChunk = 2048;

// Fast reciprocal: the MUFU approximation (about 1 ulp) in float, exact division in double.
__device__ __forceinline__ float rcp_(float x) { return __fdividef(1.0f, x); }
__device__ __forceinline__ double rcp_(double x) { return 1.0 / x; }

}  // namespace

template <typename C>
__global__ void __launch_bounds__(kThreads) lrnnx_cauchy_fwd(
    const C* __restrict__ v, const C* __restrict__ z, const C* __restrict__ w, C* __restrict__ out,
    long long B, long long N, long long L, int mode) {
  using R = typename lrnnx::real_of<C>::type;
  // Per pair: 2 Re v, -2 Im v Im w, Re w, Im w.
  __shared__ R s_a[kThreads], s_c[kThreads], s_wr[kThreads], s_wi[kThreads];
  const long long tile_len = (long long)kThreads * kItems;
  const long long ntiles = (L + tile_len - 1) / tile_len;
  const long long b = blockIdx.x / ntiles;
  const long long l0 = (blockIdx.x % ntiles) * tile_len;
  if (b >= B) return;
  const C* vb = v + b * N;
  const C* wb = w + b * N;

  R zr[kItems], zi[kItems], accr[kItems], acci[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const long long l = l0 + threadIdx.x + (long long)i * kThreads;
    const C zl = l < L ? z[l] : C(0);
    zr[i] = zl.real();
    zi[i] = zl.imag();
    accr[i] = R(0);
    acci[i] = R(0);
  }
  for (long long n0 = 0; n0 < N; n0 += kThreads) {
    const int tn = (int)min((long long)kThreads, N - n0);
    __syncthreads();  // previous tile fully consumed
    if (threadIdx.x < tn) {
      const C vn = vb[n0 + threadIdx.x], wn = wb[n0 + threadIdx.x];
      s_a[threadIdx.x] = R(2) * vn.real();
      s_c[threadIdx.x] = R(-2) * vn.imag() * wn.imag();
      s_wr[threadIdx.x] = wn.real();
      s_wi[threadIdx.x] = wn.imag();
    }
    __syncthreads();
    if (mode == 0) {
      for (int k = 0; k < tn; ++k) {
        const R a = s_a[k], c = s_c[k], wr = s_wr[k], wi = s_wi[k];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          const R p = zr[i] - wr;
          const R q1 = zi[i] - wi, q2 = zi[i] + wi;
          const R dr = fma(p, p, -(q1 * q2));
          const R di = R(2) * p * zi[i];
          const R nr = fma(a, p, c);
          const R ni = a * zi[i];
          const R inv = rcp_(fma(dr, dr, di * di));
          accr[i] = fma(fma(nr, dr, ni * di), inv, accr[i]);
          acci[i] = fma(fma(ni, dr, -(nr * di)), inv, acci[i]);
        }
      }
    } else {
      for (int k = 0; k < tn; ++k) {
        const R wr = s_wr[k], wi = s_wi[k];
        const C vn = vb[n0 + k];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          const C r1 = C(1) / C(zr[i] - wr, zi[i] - wi);
          const C r2 = C(1) / C(zr[i] - wr, zi[i] + wi);
          const C s = vn * r1 * r1 + conj(vn) * r2 * r2;
          accr[i] += s.real();
          acci[i] += s.imag();
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const long long l = l0 + threadIdx.x + (long long)i * kThreads;
    if (l < L) out[b * L + l] = C(accr[i], acci[i]);
  }
}

// partial_dv / partial_s2: (B, nchunks, N). dv = sum_l g conj(r1) + conj(g) r2,
// s2 = sum_l g conj(r1)^2 + conj(g) r2^2, r1 = 1/(z-w), r2 = 1/(z-conj w).
template <typename C>
__global__ void __launch_bounds__(32 * kBwdWarps) lrnnx_cauchy_bwd(
    const C* __restrict__ g, const C* __restrict__ z, const C* __restrict__ w,
    C* __restrict__ partial_dv, C* __restrict__ partial_s2, long long B, long long N, long long L) {
  using R = typename lrnnx::real_of<C>::type;
  __shared__ R s_red[4][kBwdWarps][32];
  const long long ntn = (N + 31) / 32;
  const long long nchunks = (L + kBwdChunk - 1) / kBwdChunk;
  long long idx = blockIdx.x;
  const long long chunk = idx % nchunks;
  idx /= nchunks;
  const long long nt = idx % ntn;
  const long long b = idx / ntn;
  if (b >= B) return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long n = nt * 32 + lane;
  const bool active = n < N;
  const C wn = active ? w[b * N + n] : C(0);
  const R wr = wn.real(), wi = wn.imag();
  R dvr = 0, dvi = 0, s2r = 0, s2i = 0;
  const long long l_begin = chunk * kBwdChunk;
  const long long l_end = min(L, l_begin + kBwdChunk);
  const C* gb = g + b * L;
  if (active) {
    for (long long l = l_begin + warp; l < l_end; l += kBwdWarps) {
      const C zl = z[l], gl = gb[l];
      const R gr = gl.real(), gi = gl.imag();
      const R p = zl.real() - wr;
      const R q1 = zl.imag() - wi, q2 = zl.imag() + wi;
      // a = conj(r1) = (p + i q1)/|.|^2 ; c = r2 = (p - i q2)/|.|^2
      const R i1 = rcp_(fma(p, p, q1 * q1)), i2 = rcp_(fma(p, p, q2 * q2));
      const R ar = p * i1, ai = q1 * i1;
      const R cr = p * i2, ci = -q2 * i2;
      // g a + conj(g) c
      dvr += (gr * ar - gi * ai) + (gr * cr + gi * ci);
      dvi += (gr * ai + gi * ar) + (gr * ci - gi * cr);
      // g a^2 + conj(g) c^2
      const R a2r = ar * ar - ai * ai, a2i = R(2) * ar * ai;
      const R c2r = cr * cr - ci * ci, c2i = R(2) * cr * ci;
      s2r += (gr * a2r - gi * a2i) + (gr * c2r + gi * c2i);
      s2i += (gr * a2i + gi * a2r) + (gr * c2i - gi * c2r);
    }
  }
  s_red[0][warp][lane] = dvr;
  s_red[1][warp][lane] = dvi;
  s_red[2][warp][lane] = s2r;
  s_red[3][warp][lane] = s2i;
  __syncthreads();
  if (warp < 4) {
    R s = 0;
#pragma unroll
    for (int k = 0; k < kBwdWarps; ++k) s += s_red[warp][k][lane];
    s_red[warp][0][lane] = s;
  }
  __syncthreads();
  if (warp == 0 && active) {
    const long long o = (b * nchunks + chunk) * N + n;
    partial_dv[o] = C(s_red[0][0][lane], s_red[1][0][lane]);
    partial_s2[o] = C(s_red[2][0][lane], s_red[3][0][lane]);
  }
}
