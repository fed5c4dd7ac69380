// Diagonal linear recurrence h_t = a_t * h_{t-1} + b_t over rows of length L, fwd and bwd.
//
// One block per row; the row is walked in chunks of kThreads*kItems steps. Each thread composes
// its kItems affine maps, a block-wide exclusive scan gives every thread its entering state, and
// the running state is carried across chunks in registers (every thread keeps the same copy):
// common.cuh's block_chunk_scan.
// Memory traffic is the roofline minimum: fwd reads a, b and writes h (3 elements per step); bwd
// reads a, h, dh and writes da, db (5 per step). Nothing is divided by a.
#include "common.cuh"

using namespace lrnnx;

template <typename T> struct ScanCfg {
  static constexpr int kThreads = 128;
  // ~32 bytes of a and of b per thread per chunk keeps register use flat across dtypes.
  static constexpr int kItems = sizeof(T) <= 4 ? 8 : (sizeof(T) <= 8 ? 4 : 2);
  static constexpr int kChunk = kThreads * kItems;
};

// Physical index of logical step s (logical order is scan order).
__device__ __forceinline__ long long phys(long long s, long long L, int reverse) {
  return reverse ? (L - 1 - s) : s;
}

template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_diag_scan_fwd(const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ h0,
                    T* __restrict__ h, long long R, long long L, int has_h0, int reverse) {
  using C = ScanCfg<T>;
  __shared__ Affine<T> smem[C::kThreads / 32];
  const long long row = blockIdx.x;
  if (row >= R) return;
  const T* ar = a + row * L;
  const T* br = b + row * L;
  T* hr = h + row * L;
  T carry = has_h0 ? h0[row] : T(0);
  for (long long c0 = 0; c0 < L; c0 += C::kChunk) {
    const long long base = c0 + (long long)threadIdx.x * C::kItems;
    const auto load = [&](int i) {
      const long long s = base + i;
      if (s >= L) return affine_identity<T>();
      const long long p = phys(s, L, reverse);
      return Affine<T>{ar[p], br[p]};
    };
    carry = block_chunk_scan<T, C::kThreads, C::kItems>(load, carry, smem, [&](int i, T, T x) {
      if (base + i < L) hr[phys(base + i, L, reverse)] = x;
    });
  }
}

// Adjoint: with logical steps s, lam_s = g_s + conj(a_{s+1}) lam_{s+1}, run as a forward scan in
// r = L-1-s. db_s = lam_s, da_s = lam_s * conj(h_{s-1}) (h_{-1} = h0), dh0 = conj(a_0) lam_0.
// dlast (optional) is the cotangent of the final state h_{L-1}, added to g_{L-1}.
template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_diag_scan_bwd(const T* __restrict__ a, const T* __restrict__ h, const T* __restrict__ h0,
                    const T* __restrict__ dh, const T* __restrict__ dlast, T* __restrict__ da,
                    T* __restrict__ db, T* __restrict__ dh0, long long R, long long L, int has_h0,
                    int has_dlast, int reverse) {
  using C = ScanCfg<T>;
  __shared__ Affine<T> smem[C::kThreads / 32];
  const long long row = blockIdx.x;
  if (row >= R) return;
  const T* ar = a + row * L;
  const T* hr = h + row * L;
  const T* gr = dh + row * L;
  T* dar = da + row * L;
  T* dbr = db + row * L;
  const T h_init = has_h0 ? h0[row] : T(0);
  T carry = T(0);
  for (long long c0 = 0; c0 < L; c0 += C::kChunk) {
    const long long base = c0 + (long long)threadIdx.x * C::kItems;
    const auto load = [&](int i) {
      const long long r = base + i;
      if (r >= L) return affine_identity<T>();
      const long long s = L - 1 - r;
      T g = gr[phys(s, L, reverse)];
      if (r == 0 && has_dlast) g += dlast[row];
      return Affine<T>{(r == 0) ? T(0) : conj_(ar[phys(s + 1, L, reverse)]), g};
    };
    carry = block_chunk_scan<T, C::kThreads, C::kItems>(load, carry, smem, [&](int i, T, T lam) {
      const long long r = base + i;
      if (r < L) {
        const long long s = L - 1 - r;
        const long long p = phys(s, L, reverse);
        const T hp = (s == 0) ? h_init : hr[phys(s - 1, L, reverse)];
        dbr[p] = lam;
        dar[p] = lam * conj_(hp);
        if (s == 0 && has_h0) dh0[row] = conj_(ar[p]) * lam;
      }
    });
  }
}
