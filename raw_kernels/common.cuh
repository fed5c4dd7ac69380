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

__device__ __forceinline__ float shfl_idx_(float v, int l) { return __shfl_sync(0xffffffffu, v, l); }
__device__ __forceinline__ double shfl_idx_(double v, int l) { return __shfl_sync(0xffffffffu, v, l); }
template <typename R> __device__ __forceinline__ complex<R> shfl_idx_(complex<R> v, int l) {
  return complex<R>(shfl_idx_(v.real(), l), shfl_idx_(v.imag(), l));
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

// Scans run in one of two directions. Forward: scan order is ascending lane / warp / item
// index. Reverse (kReverse): descending, so the highest lane's map is applied first; the backward
// kernels use it for adjoints running against time without re-indexing their register chunks.
template <bool kReverse, typename T> __device__ __forceinline__ T shfl_toward_(T v, int d) {
  return kReverse ? shfl_down_(v, d) : shfl_up_(v, d);
}

// Warp-wide inclusive scan of per-lane affine maps in scan order: each lane gets the composition
// of the maps of the lanes up to itself. No barrier; all 32 lanes must call it.
template <typename T, bool kReverse = false>
__device__ __forceinline__ Affine<T> warp_inclusive_scan(Affine<T> x) {
  const int pos = kReverse ? 31 - (threadIdx.x & 31) : (threadIdx.x & 31);  // place in scan order
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    Affine<T> y{shfl_toward_<kReverse>(x.a, d), shfl_toward_<kReverse>(x.b, d)};
    if (pos >= d) x = compose(y, x);
  }
  return x;
}
// The exclusive scan from the inclusive one: the previous lane's value (identity for the first).
template <typename T, bool kReverse = false>
__device__ __forceinline__ Affine<T> warp_exclusive_from_inclusive(Affine<T> incl) {
  Affine<T> excl{shfl_toward_<kReverse>(incl.a, 1), shfl_toward_<kReverse>(incl.b, 1)};
  if ((threadIdx.x & 31) == (kReverse ? 31 : 0)) excl = affine_identity<T>();
  return excl;
}
template <typename T, bool kReverse = false>
__device__ __forceinline__ Affine<T> warp_exclusive_scan(Affine<T> x) {
  return warp_exclusive_from_inclusive<T, kReverse>(warp_inclusive_scan<T, kReverse>(x));
}

// Block-wide exclusive scan of per-thread affine maps in scan order (ascending thread index, or
// descending with kReverse). Returns the composition of the maps of the threads before this one;
// `total` receives the composition over the whole block. `smem` holds kThreads/32 entries.
// Contains two __syncthreads(): call from all threads.
template <typename T, int kThreads, bool kReverse = false>
__device__ __forceinline__ Affine<T> block_exclusive_scan_dir(Affine<T> x, Affine<T>* smem,
                                                              Affine<T>& total) {
  static_assert(kThreads % 32 == 0, "block size must be a multiple of the warp size");
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const Affine<T> incl = warp_inclusive_scan<T, kReverse>(x);
  if (lane == (kReverse ? 0 : 31)) smem[warp] = incl;
  __syncthreads();
  Affine<T> pre = affine_identity<T>();
  Affine<T> tot = affine_identity<T>();
#pragma unroll
  for (int j = 0; j < kWarps; ++j) {
    const int w = kReverse ? kWarps - 1 - j : j;
    if (kReverse ? w > warp : w < warp) pre = compose(pre, smem[w]);
    tot = compose(tot, smem[w]);
  }
  __syncthreads();  // smem may be reused by the caller's next chunk
  const Affine<T> excl = warp_exclusive_from_inclusive<T, kReverse>(incl);
  total = tot;
  return compose(pre, excl);  // earlier warps first, then earlier lanes of this warp
}

// Ascending thread order: thread k gets the maps of threads 0..k-1.
template <typename T, int kThreads>
__device__ __forceinline__ Affine<T> block_exclusive_scan(Affine<T> x, Affine<T>* smem, Affine<T>& total) {
  return block_exclusive_scan_dir<T, kThreads, false>(x, smem, total);
}
// Descending thread order: thread k gets the maps of threads N-1, ..., k+1 (highest first).
template <typename T, int kThreads>
__device__ __forceinline__ Affine<T> block_exclusive_suffix_scan(Affine<T> x, Affine<T>* smem,
                                                                 Affine<T>& total) {
  return block_exclusive_scan_dir<T, kThreads, true>(x, smem, total);
}

// ---- Chunked scan driver --------------------------------------------------------------------
// Every scan kernel walks a row of the recurrence h = a*h + b in chunks held in registers: each
// thread (or lane) owns kItems consecutive steps; it loads and composes their maps, an exclusive
// scan over the block (or warp) gives it its entering state from the chunk's entering `carry`,
// and it replays its steps. With kReverse the items of a thread, and the threads, are taken in
// descending order (adjoints against time). The kernel keeps its own layouts, chunk loop and
// carry storage; the driver adds no memory traffic and no barrier beyond the scan's.
//   load(i)                -> Affine<T>{a_i, b_i} of item i, called once per item (padding
//                             items return the identity); the pairs stay in registers.
//   store(i, before, after): item i's state before and after its step, padding items included
//                             (the kernel bounds-checks).
template <typename T, int kItems, bool kReverse, typename Load>
__device__ __forceinline__ Affine<T> thread_load_(Load& load, Affine<T> (&e)[kItems]) {
  Affine<T> agg = affine_identity<T>();
#pragma unroll
  for (int j = 0; j < kItems; ++j) {
    const int i = kReverse ? kItems - 1 - j : j;
    e[i] = load(i);
    agg = compose(agg, e[i]);
  }
  return agg;
}
template <typename T, int kItems, bool kReverse, typename Store>
__device__ __forceinline__ T thread_replay_(const Affine<T> (&e)[kItems], Store& store, T x) {
#pragma unroll
  for (int j = 0; j < kItems; ++j) {
    const int i = kReverse ? kItems - 1 - j : j;
    const T before = x;
    x = e[i].a * x + e[i].b;
    store(i, before, x);
  }
  return x;
}

// One chunk, block-wide. Returns the state leaving the chunk (the next chunk's carry), the same
// in every thread. Two __syncthreads() (the scan's): call from all threads.
template <typename T, int kThreads, int kItems, bool kReverse = false, typename Load, typename Store>
__device__ __forceinline__ T block_chunk_scan(Load load, T carry, Affine<T>* smem, Store store) {
  Affine<T> e[kItems];
  const Affine<T> agg = thread_load_<T, kItems, kReverse>(load, e);
  Affine<T> total;
  const Affine<T> pre = block_exclusive_scan_dir<T, kThreads, kReverse>(agg, smem, total);
  thread_replay_<T, kItems, kReverse>(e, store, pre.a * carry + pre.b);
  return total.a * carry + total.b;
}

// One chunk, warp-wide (one warp per row, no barrier). Returns this lane's state after its last
// item; the chunk's leaving state is that of lane 31 (forward) or lane 0 (kReverse).
template <typename T, int kItems, bool kReverse = false, typename Load, typename Store>
__device__ __forceinline__ T warp_chunk_scan(Load load, T carry, Store store) {
  Affine<T> e[kItems];
  const Affine<T> agg = thread_load_<T, kItems, kReverse>(load, e);
  const Affine<T> pre = warp_exclusive_scan<T, kReverse>(agg);
  return thread_replay_<T, kItems, kReverse>(e, store, pre.a * carry + pre.b);
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

// phi(x) = expm1(x)/x and phi'(x) = (e^x - phi(x))/x for complex x: zoh's gamma = dt*phi(A*dt)
// and d gamma/dA = dt^2 phi'(A*dt), with no 0/0 at A = 0 and no cancellation at small |A*dt|.
// Taylor series below |x| = 0.1 (float) / 1e-3 (double); truncation < 3e-10 / 1e-18.
template <typename R> __device__ __forceinline__ bool phi_small_(complex<R> x) {
  return norm(x) < (sizeof(R) == 4 ? R(1e-2) : R(1e-6));
}
template <typename R> __device__ __forceinline__ complex<R> phi1_(complex<R> x) {
  if (phi_small_(x)) {
    return R(1) + x * (R(1) / 2 + x * (R(1) / 6 + x * (R(1) / 24 + x * (R(1) / 120 + x * (R(1) / 720)))));
  }
  return expm1_(x) / x;
}
template <typename R> __device__ __forceinline__ complex<R> dphi1_(complex<R> x) {
  if (phi_small_(x)) {
    return R(1) / 2 + x * (R(1) / 3 + x * (R(1) / 8 + x * (R(1) / 30 + x * (R(1) / 144 + x * (R(1) / 840)))));
  }
  return (exp(x) - phi1_(x)) / x;
}

// Diagonal complex discretization shared by the S5 kernels; codes 0 bilinear, 1 zoh, 2 dirac.
// Abar uses the A time step dtA, gbar the input time step dt (Event-SSM semantics).
template <typename R>
__device__ __forceinline__ void s5_discretize(int disc, complex<R> A, R dt, R dtA, complex<R>& ab,
                                              complex<R>& gb) {
  const complex<R> one(R(1), R(0));
  if (disc == 0) {
    const complex<R> ha = A * (dtA * R(0.5));
    ab = (one + ha) / (one - ha);
    gb = complex<R>(dt, R(0)) / (one - A * (dt * R(0.5)));
  } else {
    ab = exp(A * dtA);
    gb = (disc == 1) ? dt * phi1_(A * dt) : one;
  }
}

}  // namespace lrnnx
