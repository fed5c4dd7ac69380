// Shared device helpers for lrnnx_array kernels. Inlined by the Python loader (not #included by
// NVRTC), so CuPy's on-disk cache key changes whenever this header changes.
#pragma once
#include <cupy/complex.cuh>

namespace lrnnx {

// Real type behind a scalar: float for complex<float>, etc.
template <typename T> struct real_of { using type = T; };
template <typename R> struct real_of<complex<R>> { using type = R; };

template <typename T> struct is_complex { static constexpr bool value = false; };
template <typename R> struct is_complex<complex<R>> { static constexpr bool value = true; };

// conj is the identity for real scalars, so one template body serves all four dtypes.
__device__ __forceinline__ float conj_(float x) { return x; }
__device__ __forceinline__ double conj_(double x) { return x; }
template <typename R> __device__ __forceinline__ complex<R> conj_(complex<R> x) { return conj(x); }

__device__ __forceinline__ float real_(float x) { return x; }
__device__ __forceinline__ double real_(double x) { return x; }
template <typename R> __device__ __forceinline__ R real_(complex<R> x) { return x.real(); }

// Warp shuffles, component-wise for complex.
__device__ __forceinline__ float shfl_up_(float v, int d) { return __shfl_up_sync(0xffffffffu, v, d); }
__device__ __forceinline__ double shfl_up_(double v, int d) { return __shfl_up_sync(0xffffffffu, v, d); }
template <typename R> __device__ __forceinline__ complex<R> shfl_up_(complex<R> v, int d) {
  return complex<R>(shfl_up_(v.real(), d), shfl_up_(v.imag(), d));
}
__device__ __forceinline__ float shfl_down_(float v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ double shfl_down_(double v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
template <typename R> __device__ __forceinline__ complex<R> shfl_down_(complex<R> v, int d) {
  return complex<R>(shfl_down_(v.real(), d), shfl_down_(v.imag(), d));
}

// An affine map h -> a*h + b; the element of every linear-recurrence scan.
template <typename T> struct Affine {
  T a, b;
};
template <typename T> __device__ __forceinline__ Affine<T> affine_identity() { return {T(1), T(0)}; }
// Apply p first, then q.
template <typename T> __device__ __forceinline__ Affine<T> compose(const Affine<T>& p, const Affine<T>& q) {
  return {q.a * p.a, q.a * p.b + q.b};
}

// Block-wide exclusive scan of per-thread affine maps in thread order. Returns the composition of
// the maps of all lower threads; `total` receives the composition over the whole block.
// `smem` holds kThreads/32 entries. Contains two __syncthreads(): call from all threads.
template <typename T, int kThreads>
__device__ __forceinline__ Affine<T> block_exclusive_scan(Affine<T> x, Affine<T>* smem, Affine<T>& total) {
  static_assert(kThreads % 32 == 0, "block size must be a multiple of the warp size");
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  Affine<T> incl = x;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    Affine<T> y{shfl_up_(incl.a, d), shfl_up_(incl.b, d)};
    if (lane >= d) incl = compose(y, incl);
  }
  if (lane == 31) smem[warp] = incl;
  __syncthreads();
  Affine<T> pre = affine_identity<T>();
  Affine<T> tot = affine_identity<T>();
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) pre = compose(pre, smem[w]);
    tot = compose(tot, smem[w]);
  }
  __syncthreads();  // smem may be reused by the caller's next chunk
  Affine<T> excl{shfl_up_(incl.a, 1), shfl_up_(incl.b, 1)};
  if (lane == 0) excl = affine_identity<T>();
  total = tot;
  return compose(pre, excl);  // lower warps first, then lower lanes of this warp
}

// Block-wide sum (for parameter gradients). `smem` holds kThreads/32 entries. Result valid in
// every thread.
template <typename T, int kThreads>
__device__ __forceinline__ T block_sum(T v, T* smem) {
  constexpr int kWarps = kThreads / 32;
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += shfl_down_(v, d);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T s = T(0);
#pragma unroll
  for (int w = 0; w < kWarps; ++w) s += smem[w];
  __syncthreads();
  return s;
}

// Numerically safe special functions shared by the discretizations.
__device__ __forceinline__ float expm1_(float x) { return expm1f(x); }
__device__ __forceinline__ double expm1_(double x) { return expm1(x); }
// Complex expm1 without the cancellation of exp(x) - 1 at small |x| (NumPy's formula):
// e^{a+ib} - 1 = expm1(a) cos b - 2 sin^2(b/2) + i e^a sin b.
template <typename R> __device__ __forceinline__ complex<R> expm1_(complex<R> x) {
  const R a = x.real(), b = x.imag();
  const R sh = sin(b * R(0.5));
  return complex<R>(expm1(a) * cos(b) - R(2) * sh * sh, exp(a) * sin(b));
}

template <typename R> __device__ __forceinline__ R softplus_(R x) {
  // Same threshold rule as lrnnx/torch: identity above 20.
  return x <= R(20) ? log1p(exp(x)) : x;
}
template <typename R> __device__ __forceinline__ R sigmoid_(R x) { return R(1) / (R(1) + exp(-x)); }

}  // namespace lrnnx
