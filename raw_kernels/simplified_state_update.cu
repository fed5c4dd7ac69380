// One S5 decode step (lrnnx's simplified_state_update), race-free for any H.
//
// lrnnx's Triton kernel tiles H and lets every H-tile program recompute and store the whole
// state, so for H > 128 several programs read-modify-write the same state (spec §9.17). Here
// the update is one warp per (b, p): the lanes split the H-long dot product B[p, :] . x[b, :]
// (coalesced rows, warp-shuffle reduction) and lane 0 alone writes state[b, p]. A second kernel
// (launched after the first, same stream) computes y with one warp per (b, h): lanes split the
// P-long sum Re(C[h, :] . s[b, :]) and the H-long D[h, :] . x[b, :].
#include "common.cuh"

using namespace lrnnx;

namespace {


// Same maths as simplified_scan.cu (common.cuh's s5_discretize): Abar from dtA, gbar from dt.
template <typename R>
__device__ __forceinline__ void discretize_step(int disc, complex<R> A, R dt, R dtA,
                                                complex<R>& ab, complex<R>& gb) {
  s5_discretize<R>(disc, A, dt, dtA, ab, gb);
}

template <typename T> __device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += shfl_down_(v, d);
  return v;
}

}  // namespace

// state (B, P) complex, updated in place; x (B, H) real; dt, dtA: (B, P) rows at b * sb
// (sb = 0 for a (P,) step); A (P,); B (P, H).
template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_simplified_state_update_step(T* __restrict__ state,
                                   const typename real_of<T>::type* __restrict__ x,
                                   const typename real_of<T>::type* __restrict__ dt,
                                   const typename real_of<T>::type* __restrict__ dtA,
                                   const T* __restrict__ A, const T* __restrict__ B,
                                   long long Bsz, long long P, long long H, long long dt_sb,
                                   long long dA_sb, int has_dtA, int disc) {
  using R = typename real_of<T>::type;
  const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (w >= Bsz * P) return;  // uniform per warp: blockDim is a multiple of 32
  const long long b = w / P, p = w % P;
  T acc(R(0), R(0));
  for (long long h = lane; h < H; h += 32) acc += B[p * H + h] * x[b * H + h];
  acc = warp_sum(acc);
  if (lane == 0) {
    const R d = dt[b * dt_sb + p];
    const R dA = has_dtA ? dtA[b * dA_sb + p] : d;
    T ab, gb;
    discretize_step<R>(disc, A[p], d, dA, ab, gb);
    const long long i = b * P + p;
    state[i] = ab * state[i] + gb * acc;
  }
}

// y[b, h] = scale * Re(sum_p C[h, p] s[b, p]) + sum_k D[h, k] x[b, k] (D optional).
template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_simplified_state_update_out(const T* __restrict__ state,
                                  const typename real_of<T>::type* __restrict__ x,
                                  const T* __restrict__ C,
                                  const typename real_of<T>::type* __restrict__ D,
                                  typename real_of<T>::type* __restrict__ y, long long Bsz,
                                  long long P, long long H, int has_D,
                                  typename real_of<T>::type scale) {
  using R = typename real_of<T>::type;
  const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (w >= Bsz * H) return;
  const long long b = w / H, h = w % H;
  R acc = R(0);
  for (long long p = lane; p < P; p += 32) {
    const T c = C[h * P + p], s = state[b * P + p];
    acc += c.real() * s.real() - c.imag() * s.imag();
  }
  R accd = R(0);
  if (has_D)
    for (long long k = lane; k < H; k += 32) accd += D[h * H + k] * x[b * H + k];
  acc = warp_sum(acc);
  accd = warp_sum(accd);
  if (lane == 0) y[b * H + h] = scale * acc + accd;
}
