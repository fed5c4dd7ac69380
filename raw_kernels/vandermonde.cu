// Log-Vandermonde products (S4D): forward sum_n c_n e^{x_n l} and transpose sum_l u_l e^{x_n l}.
//
// Powers e^{x l} are never one exp per (n, l). Each thread computes e^{x (l_start)} accurately
// once and then steps by a precomputed e^{x S} (one complex multiply per item), re-anchoring with
// an accurate exp every few steps so rounding cannot accumulate (<= ~32 ulp in float32).
// "Accurate" matters in float32: for large l the phase Im(x) l is huge, so it is formed and
// reduced modulo 2 pi in double (x is exact as a float, l exact as an integer), and only the
// reduced angle goes through sincosf. lrnnx forms Im(x) l in float32 and so loses ~|x l| ulp of
// phase; ours stays within a few ulp of the float64 result.
//
// Forward: one block per (row, tile of kThreads*kItems positions); thread t owns positions
// l0 + t + i*kThreads, the coefficients and step factors of a tile of pairs sit in shared memory.
// Transpose: one block per (row, 32 pairs, chunk of kChunk positions); lane = pair, warp = strided
// positions (u_l is a warp-broadcast load); per-chunk partial sums go to (rows, chunks, N) and the
// launcher sums them. The l-weighted sum (for dx) shares the powers.
#include "common.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kItems = 8;
constexpr int kWarps = 8;
constexpr int kChunk = 2048;
constexpr int kAnchor = 32;  // transpose: accurate exp every kAnchor steps of a warp

// e^{x l} for an integer l, accurate to a few ulp of the output precision.
__device__ __forceinline__ void cexp_int(float xr, float xi, long long l, float& er, float& ei) {
  const double two_pi = 6.283185307179586476925286766559;
  const double dl = (double)l;
  double ph = (double)xi * dl;
  ph = fma(-two_pi, rint(ph * (1.0 / two_pi)), ph);
  float s, c;
  sincosf((float)ph, &s, &c);
  const float m = expf((float)((double)xr * dl));
  er = m * c;
  ei = m * s;
}
__device__ __forceinline__ void cexp_int(double xr, double xi, long long l, double& er, double& ei) {
  const double dl = (double)l;
  double s, c;
  sincos(xi * dl, &s, &c);
  const double m = exp(xr * dl);
  er = m * c;
  ei = m * s;
}

template <typename R> struct Acc {  // u * e for real or complex u
  __device__ __forceinline__ static void mad(R u, R er, R ei, R& ar, R& ai) {
    ar = fma(u, er, ar);
    ai = fma(u, ei, ai);
  }
};
template <typename R> struct Acc<complex<R>> {
  __device__ __forceinline__ static void mad(complex<R> u, R er, R ei, R& ar, R& ai) {
    ar = fma(u.real(), er, fma(-u.imag(), ei, ar));
    ai = fma(u.real(), ei, fma(u.imag(), er, ai));
  }
};

}  // namespace

// out[b, l] = sum_n c[b,n] e^{x[b,n] l}; real2: out_real = 2 Re(.), else out_cplx = (.).
template <typename C>
__global__ void __launch_bounds__(kThreads) lrnnx_vand_fwd(
    const C* __restrict__ c, const C* __restrict__ x, typename lrnnx::real_of<C>::type* out_real,
    C* out_cplx, long long B, long long N, long long L, int real2) {
  using R = typename lrnnx::real_of<C>::type;
  __shared__ R s_xr[kThreads], s_xi[kThreads], s_cr[kThreads], s_ci[kThreads];
  __shared__ R s_sr[kThreads], s_si[kThreads];
  const long long tile_len = (long long)kThreads * kItems;
  const long long ntiles = (L + tile_len - 1) / tile_len;
  const long long b = blockIdx.x / ntiles;
  const long long l0 = (blockIdx.x % ntiles) * tile_len;
  if (b >= B) return;
  const long long lt = l0 + threadIdx.x;
  R accr[kItems], acci[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) accr[i] = acci[i] = R(0);
  for (long long n0 = 0; n0 < N; n0 += kThreads) {
    const int tn = (int)min((long long)kThreads, N - n0);
    __syncthreads();
    if (threadIdx.x < tn) {
      const C xn = x[b * N + n0 + threadIdx.x], cn = c[b * N + n0 + threadIdx.x];
      s_xr[threadIdx.x] = xn.real();
      s_xi[threadIdx.x] = xn.imag();
      s_cr[threadIdx.x] = cn.real();
      s_ci[threadIdx.x] = cn.imag();
      R sr, si;
      cexp_int(xn.real(), xn.imag(), (long long)kThreads, sr, si);
      s_sr[threadIdx.x] = sr;
      s_si[threadIdx.x] = si;
    }
    __syncthreads();
    for (int k = 0; k < tn; ++k) {
      R pr, pi;
      cexp_int(s_xr[k], s_xi[k], lt, pr, pi);
      const R cr = s_cr[k], ci = s_ci[k], sr = s_sr[k], si = s_si[k];
      R er = cr * pr - ci * pi, ei = cr * pi + ci * pr;  // c e^{x lt}
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        accr[i] += er;
        acci[i] += ei;
        const R t = er * sr - ei * si;
        ei = er * si + ei * sr;
        er = t;
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const long long l = lt + (long long)i * kThreads;
    if (l < L) {
      if (real2) out_real[b * L + l] = R(2) * accr[i];
      else out_cplx[b * L + l] = C(accr[i], acci[i]);
    }
  }
}

// partial0[b, chunk, n] = sum_{l in chunk} u[b,l] e^{x[b,n] l}; partial1 the same with weight l
// (only when weighted).
template <typename C, typename U>
__global__ void __launch_bounds__(32 * kWarps) lrnnx_vand_t(
    const U* __restrict__ u, const C* __restrict__ x, C* __restrict__ partial0,
    C* __restrict__ partial1, long long B, long long N, long long L, int weighted) {
  using R = typename lrnnx::real_of<C>::type;
  __shared__ R s_red[4][kWarps][32];
  const long long ntn = (N + 31) / 32;
  const long long nchunks = (L + kChunk - 1) / kChunk;
  long long idx = blockIdx.x;
  const long long chunk = idx % nchunks;
  idx /= nchunks;
  const long long nt = idx % ntn;
  const long long b = idx / ntn;
  if (b >= B) return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long n = nt * 32 + lane;
  const bool active = n < N;
  const C xn = active ? x[b * N + n] : C(0);
  const R xr = xn.real(), xi = xn.imag();
  R sr, si;
  cexp_int(xr, xi, (long long)kWarps, sr, si);
  R a0r = 0, a0i = 0, a1r = 0, a1i = 0;
  const long long l_begin = chunk * kChunk;
  const long long l_end = min(L, l_begin + kChunk);
  const U* ub = u + b * L;
  if (active) {
    R er = 0, ei = 0;
    int k = 0;
    for (long long l = l_begin + warp; l < l_end; l += kWarps, ++k) {
      if ((k % kAnchor) == 0) cexp_int(xr, xi, l, er, ei);
      const U ul = ub[l];
      Acc<U>::mad(ul, er, ei, a0r, a0i);
      if (weighted) {
        R wr = 0, wi = 0;
        Acc<U>::mad(ul, er, ei, wr, wi);
        a1r = fma((R)l, wr, a1r);
        a1i = fma((R)l, wi, a1i);
      }
      const R t = er * sr - ei * si;
      ei = er * si + ei * sr;
      er = t;
    }
  }
  s_red[0][warp][lane] = a0r;
  s_red[1][warp][lane] = a0i;
  s_red[2][warp][lane] = a1r;
  s_red[3][warp][lane] = a1i;
  __syncthreads();
  if (warp < 4) {
    R s = 0;
#pragma unroll
    for (int q = 0; q < kWarps; ++q) s += s_red[warp][q][lane];
    s_red[warp][0][lane] = s;
  }
  __syncthreads();
  if (warp == 0 && active) {
    const long long o = (b * nchunks + chunk) * N + n;
    partial0[o] = C(s_red[0][0][lane], s_red[1][0][lane]);
    if (weighted) partial1[o] = C(s_red[2][0][lane], s_red[3][0][lane]);
  }
}
