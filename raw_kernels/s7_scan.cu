// S7 scan: s_t = Ā_t s_{t-1} + Σ_h B_{n,h,t} u_{h,t} + bias_t with Ā = 1 - 1/(a² + ½), and
// y_{h,t} = Σ_n C_{h,n,t} s_{n,t}; fwd, output contraction and bwd.
//
// The scan runs one block per (batch, n) row in chunks, with the H-contraction Bu computed in a
// striped (coalesced) layout into shared memory and the recurrence as a block-wide affine scan on
// blocked items (common.cuh's block_chunk_scan); the states s (batch, N, L) are written once. The contraction over n (y, and du
// in the backward) is a separate elementwise-parallel kernel, so no output needs atomics. The
// backward walks reversed time r = L-1-t in chunks, reads s_{t-1} from the saved states (never
// divides by Ā, which vanishes at a² = ½) and writes dA, dB, dC and λ = dBu per row.
#include "common.cuh"

using namespace lrnnx;

template <typename T> struct S7Cfg {
  static constexpr int kThreads = 128;
  static constexpr int kItems = sizeof(T) <= 4 ? 8 : 4;
  static constexpr int kChunk = kThreads * kItems;
};

template <typename T> __device__ __forceinline__ T s7_abar(T a) { return T(1) - T(1) / (a * a + T(0.5)); }
template <typename T> __device__ __forceinline__ T s7_dabar(T a) {
  const T w = a * a + T(0.5);
  return T(2) * a / (w * w);
}

template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_s7_scan_fwd(const T* __restrict__ u, const T* __restrict__ A, const T* __restrict__ Bm,
                  const T* __restrict__ bias, const T* __restrict__ h0, T* __restrict__ s,
                  T* __restrict__ last, long long Bsz, long long H, long long N, long long L,
                  int has_bias, int has_h0) {
  using C = S7Cfg<T>;
  __shared__ Affine<T> smem[C::kThreads / 32];
  __shared__ T bu_s[C::kChunk];
  const long long row = blockIdx.x;  // b * N + n
  if (row >= Bsz * N) return;
  const long long b = row / N;
  T carry = has_h0 ? h0[row] : T(0);
  for (long long c0 = 0; c0 < L; c0 += C::kChunk) {
    for (int j = threadIdx.x; j < C::kChunk; j += C::kThreads) {
      const long long t = c0 + j;
      T acc = T(0);
      if (t < L) {
        acc = has_bias ? bias[row * L + t] : T(0);
        for (long long h = 0; h < H; ++h) acc += Bm[(row * H + h) * L + t] * u[(b * H + h) * L + t];
      }
      bu_s[j] = acc;
    }
    __syncthreads();
    const long long base = c0 + (long long)threadIdx.x * C::kItems;
    const auto load = [&](int i) {
      const long long t = base + i;
      if (t >= L) return affine_identity<T>();
      return Affine<T>{s7_abar(A[row * L + t]), bu_s[threadIdx.x * C::kItems + i]};
    };
    // The scan's barriers also protect bu_s before the next chunk writes it.
    carry = block_chunk_scan<T, C::kThreads, C::kItems>(load, carry, smem, [&](int i, T, T x) {
      if (base + i < L) s[row * L + base + i] = x;
    });
  }
  if (threadIdx.x == 0) last[row] = carry;
}

// out[b, h, t] = Σ_n M[b, h, n, t] v[b, n, t], with M addressed as b*H*N*L + h*sMh + n*sMn + t
// (C: sMh = N*L, sMn = L gives y; B: sMh = L, sMn = H*L gives du). One thread per output.
template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_s7_scan_contract(const T* __restrict__ M, const T* __restrict__ v, T* __restrict__ out,
                       long long Bsz, long long H, long long N, long long L, long long sMh,
                       long long sMn) {
  const long long total = Bsz * H * L;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long t = i % L;
    const long long bh = i / L;
    const long long h = bh % H;
    const long long b = bh / H;
    const T* m = M + b * H * N * L + h * sMh + t;
    const T* vv = v + b * N * L + t;
    T acc = T(0);
    for (long long n = 0; n < N; ++n) acc += m[n * sMn] * vv[n * L];
    out[i] = acc;
  }
}

// λ_t = Σ_h C_{h,n,t} dout_{h,t} + Ā_{t+1} λ_{t+1} (+ dlast at t = L-1), as a forward scan over
// r = L-1-t. Writes lam (= dBu = dbias), dA = λ s_{t-1} dĀ/da, dB = λ u, dC = dout s, dh0 = Ā_0 λ_0.
template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_s7_scan_bwd(const T* __restrict__ u, const T* __restrict__ A, const T* __restrict__ Cm,
                  const T* __restrict__ s, const T* __restrict__ h0, const T* __restrict__ dout,
                  const T* __restrict__ dlast, T* __restrict__ dA, T* __restrict__ dB,
                  T* __restrict__ dC, T* __restrict__ lam_out, T* __restrict__ dh0, long long Bsz,
                  long long H, long long N, long long L, int has_h0, int has_dlast) {
  using C = S7Cfg<T>;
  __shared__ Affine<T> smem[C::kThreads / 32];
  __shared__ T ds_s[C::kChunk];
  __shared__ T lam_s[C::kChunk];
  const long long row = blockIdx.x;  // b * N + n
  if (row >= Bsz * N) return;
  const long long b = row / N;
  const long long n = row % N;
  const T h_init = has_h0 ? h0[row] : T(0);
  T carry = T(0);
  for (long long c0 = 0; c0 < L; c0 += C::kChunk) {
    for (int j = threadIdx.x; j < C::kChunk; j += C::kThreads) {
      const long long r = c0 + j;
      T acc = T(0);
      if (r < L) {
        const long long t = L - 1 - r;
        for (long long h = 0; h < H; ++h) acc += Cm[((b * H + h) * N + n) * L + t] * dout[(b * H + h) * L + t];
        if (r == 0 && has_dlast) acc += dlast[row];
      }
      ds_s[j] = acc;
    }
    __syncthreads();
    const auto load = [&](int i) {
      const int p = threadIdx.x * C::kItems + i;
      const long long r = c0 + p;
      if (r >= L) return affine_identity<T>();
      const long long t = L - 1 - r;
      return Affine<T>{r == 0 ? T(0) : s7_abar(A[row * L + t + 1]), ds_s[p]};
    };
    carry = block_chunk_scan<T, C::kThreads, C::kItems>(load, carry, smem, [&](int i, T, T lam) {
      const int p = threadIdx.x * C::kItems + i;
      const long long r = c0 + p;
      lam_s[p] = lam;
      if (r < L) {
        const long long t = L - 1 - r;
        const T a = A[row * L + t];
        const T sp = t == 0 ? h_init : s[row * L + t - 1];
        dA[row * L + t] = lam * sp * s7_dabar(a);
        lam_out[row * L + t] = lam;
        if (t == 0 && has_h0) dh0[row] = s7_abar(a) * lam;
      }
    });
    __syncthreads();  // lam_s complete
    for (long long h = 0; h < H; ++h) {
      for (int j = threadIdx.x; j < C::kChunk; j += C::kThreads) {
        const long long r = c0 + j;
        if (r < L) {
          const long long t = L - 1 - r;
          dB[(row * H + h) * L + t] = lam_s[j] * u[(b * H + h) * L + t];
          dC[((b * H + h) * N + n) * L + t] = dout[(b * H + h) * L + t] * s[row * L + t];
        }
      }
    }
    __syncthreads();  // ds_s / lam_s are rewritten by the next chunk
  }
}
