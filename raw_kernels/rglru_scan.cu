// RG-LRU scan h_t = A^{δ_t} h_{t-1} + sqrt(1 - A^{2δ_t}) u_t, y_t = Σ_n h_{t,n}; fwd and bwd.
//
// One block per (batch, dim) row, time in chunks of kThreads*kItems steps, a block-wide affine
// scan per state n (common.cuh's block_chunk_scan) with the running state of every n carried
// across chunks in shared memory. The forward can save the state entering each chunk (ckpt); the
// backward walks chunks in reverse, recomputes the chunk's states from its checkpoint into shared
// memory (so h_{t-1} is read, never recovered by dividing by Ā), and runs the adjoint as a block
// scan over reversed time. dA (dim, dstate) is shared across the batch: one atomicAdd per
// (row, n) at the end.
#include "common.cuh"

using namespace lrnnx;

#define LRNNX_RGLRU_MAX_N 256

template <typename T> struct RgCfg {
  static constexpr int kThreads = 128;
  static constexpr int kItems = sizeof(T) <= 4 ? 8 : 4;
  static constexpr int kChunk = kThreads * kItems;
};

// Ā = e^x, β = sqrt(-expm1(2x)) (exact as x -> 0), dβ/dx = -Ā²/β, 0 where β = 0 (δ <= 0 or A = 1).
template <typename T>
__device__ __forceinline__ void rg_disc(T x, T& abar, T& beta, T& dbdx) {
  abar = exp(x);
  const T om = -expm1(T(2) * x);
  if (om > T(0)) {
    beta = sqrt(om);
    dbdx = -abar * abar / beta;
  } else {
    beta = T(0);
    dbdx = T(0);
  }
}

template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_rglru_scan_fwd(const T* __restrict__ u, const T* __restrict__ delta, const T* __restrict__ A,
                     const T* __restrict__ h0, T* __restrict__ y, T* __restrict__ last,
                     T* __restrict__ ckpt, long long Bsz, long long D, long long N, long long L,
                     int has_h0, int has_ckpt) {
  using C = RgCfg<T>;
  __shared__ Affine<T> smem[C::kThreads / 32];
  __shared__ T carry_s[LRNNX_RGLRU_MAX_N];
  const long long row = blockIdx.x;
  if (row >= Bsz * D) return;
  const long long d = row % D;
  const T* ur = u + row * L;
  const T* dr = delta + row * L;
  T* yr = y + row * L;
  for (long long n = threadIdx.x; n < N; n += C::kThreads) carry_s[n] = has_h0 ? h0[row * N + n] : T(0);
  __syncthreads();
  const long long nchunks = (L + C::kChunk - 1) / C::kChunk;
  for (long long c = 0; c < nchunks; ++c) {
    const long long c0 = c * C::kChunk;
    T uv[C::kItems], dv[C::kItems], yv[C::kItems];
#pragma unroll
    for (int i = 0; i < C::kItems; ++i) {
      const long long t = c0 + (long long)threadIdx.x * C::kItems + i;
      uv[i] = t < L ? ur[t] : T(0);
      dv[i] = t < L ? dr[t] : T(0);
      yv[i] = T(0);
    }
    for (long long n = 0; n < N; ++n) {
      const T lnA = log(A[d * N + n]);
      const T carry = carry_s[n];  // read before the scan's first barrier
      if (has_ckpt && threadIdx.x == 0) ckpt[(row * nchunks + c) * N + n] = carry;
      const auto load = [&](int i) {
        T abar, beta, dbdx;
        rg_disc(dv[i] * lnA, abar, beta, dbdx);
        const bool in = c0 + (long long)threadIdx.x * C::kItems + i < L;
        return Affine<T>{in ? abar : T(1), in ? beta * uv[i] : T(0)};
      };
      const T next = block_chunk_scan<T, C::kThreads, C::kItems>(
          load, carry, smem, [&](int i, T, T h) { yv[i] += h; });
      if (threadIdx.x == 0) carry_s[n] = next;
      __syncthreads();  // the new carry is visible before anyone reads it for the next chunk
    }
#pragma unroll
    for (int i = 0; i < C::kItems; ++i) {
      const long long t = c0 + (long long)threadIdx.x * C::kItems + i;
      if (t < L) yr[t] = yv[i];
    }
  }
  for (long long n = threadIdx.x; n < N; n += C::kThreads) last[row * N + n] = carry_s[n];
}

// Adjoint λ_t = dout_t + Ā_{t+1} λ_{t+1} (+ dlast_n at t = L-1), scanned over reversed time:
// thread k's item i sits at chunk position q = kChunk-1-(k*kItems+i). With x = δ ln A:
// du_t = Σ_n β λ, dx = λ (Ā h_{t-1} + u dβ/dx), dδ_t = Σ_n dx ln A, dA += Σ_t dx δ / A.
template <typename T>
__global__ void __launch_bounds__(128)
lrnnx_rglru_scan_bwd(const T* __restrict__ u, const T* __restrict__ delta, const T* __restrict__ A,
                     const T* __restrict__ dout, const T* __restrict__ dlast,
                     const T* __restrict__ ckpt, T* __restrict__ du, T* __restrict__ ddelta,
                     T* __restrict__ dA, T* __restrict__ dh0, long long Bsz, long long D,
                     long long N, long long L, int has_dlast, int has_h0) {
  using C = RgCfg<T>;
  __shared__ Affine<T> smem[C::kThreads / 32];
  __shared__ T red_s[C::kThreads / 32];
  __shared__ T lam_s[LRNNX_RGLRU_MAX_N];
  __shared__ T dlnA_s[LRNNX_RGLRU_MAX_N];
  __shared__ T hprev_s[C::kChunk];
  const long long row = blockIdx.x;
  if (row >= Bsz * D) return;
  const long long d = row % D;
  const T* ur = u + row * L;
  const T* dr = delta + row * L;
  const T* gr = dout + row * L;
  for (long long n = threadIdx.x; n < N; n += C::kThreads) {
    lam_s[n] = T(0);
    dlnA_s[n] = T(0);
  }
  __syncthreads();
  const long long nchunks = (L + C::kChunk - 1) / C::kChunk;
  for (long long c = nchunks - 1; c >= 0; --c) {
    const long long c0 = c * C::kChunk;
    // Forward (blocked) layout for the recompute, reversed layout for the adjoint.
    T uf[C::kItems], df[C::kItems];
    T ub[C::kItems], db[C::kItems], dnext[C::kItems], gb[C::kItems], dub[C::kItems], ddb[C::kItems];
#pragma unroll
    for (int i = 0; i < C::kItems; ++i) {
      const long long p = (long long)threadIdx.x * C::kItems + i;
      const long long t = c0 + p;
      uf[i] = t < L ? ur[t] : T(0);
      df[i] = t < L ? dr[t] : T(0);
      const long long tb = c0 + (C::kChunk - 1 - p);
      ub[i] = tb < L ? ur[tb] : T(0);
      db[i] = tb < L ? dr[tb] : T(0);
      dnext[i] = tb + 1 < L ? dr[tb + 1] : T(0);
      gb[i] = tb < L ? gr[tb] : T(0);
      dub[i] = T(0);
      ddb[i] = T(0);
    }
    for (long long n = 0; n < N; ++n) {
      const T a_n = A[d * N + n];
      const T lnA = log(a_n);
      // 1. states of this chunk from its checkpoint; h_{t-1} to shared memory.
      {
        const T carry = ckpt[(row * nchunks + c) * N + n];
        const auto load = [&](int i) {
          T abar, beta, dbdx;
          rg_disc(df[i] * lnA, abar, beta, dbdx);
          const bool in = c0 + (long long)threadIdx.x * C::kItems + i < L;
          return Affine<T>{in ? abar : T(1), in ? beta * uf[i] : T(0)};
        };
        block_chunk_scan<T, C::kThreads, C::kItems>(load, carry, smem, [&](int i, T before, T) {
          hprev_s[threadIdx.x * C::kItems + i] = before;
        });
      }
      const T lam_carry = lam_s[n];  // read before the barriers below
      __syncthreads();               // hprev_s complete
      // 2. adjoint over reversed time.
      const T dl = has_dlast ? dlast[row * N + n] : T(0);
      const auto load = [&](int i) {
        const long long tb = c0 + (C::kChunk - 1 - ((long long)threadIdx.x * C::kItems + i));
        if (tb >= L) return affine_identity<T>();
        return Affine<T>{tb + 1 < L ? exp(dnext[i] * lnA) : T(0), gb[i] + (tb == L - 1 ? dl : T(0))};
      };
      T dl_acc = T(0);
      const T lam_next = block_chunk_scan<T, C::kThreads, C::kItems>(
          load, lam_carry, smem, [&](int i, T, T lam) {
            const long long q = C::kChunk - 1 - ((long long)threadIdx.x * C::kItems + i);
            const long long tb = c0 + q;
            if (tb < L) {
              T abar, beta, dbdx;
              rg_disc(db[i] * lnA, abar, beta, dbdx);
              dub[i] += beta * lam;
              const T dx = lam * (abar * hprev_s[q] + ub[i] * dbdx);
              ddb[i] += dx * lnA;
              dl_acc += dx * db[i];
              if (tb == 0 && has_h0) dh0[row * N + n] = abar * lam;
            }
          });
      const T dl_sum = block_sum<T, C::kThreads>(dl_acc, red_s);
      if (threadIdx.x == 0) {
        lam_s[n] = lam_next;
        dlnA_s[n] += dl_sum;
      }
      __syncthreads();  // lam_s updated; hprev_s free for the next state
    }
#pragma unroll
    for (int i = 0; i < C::kItems; ++i) {
      const long long tb = c0 + (C::kChunk - 1 - ((long long)threadIdx.x * C::kItems + i));
      if (tb < L) {
        du[row * L + tb] = dub[i];
        ddelta[row * L + tb] = ddb[i];
      }
    }
  }
  for (long long n = threadIdx.x; n < N; n += C::kThreads) atomicAdd(&dA[d * N + n], dlnA_s[n] / A[d * N + n]);
  // No steps (L = 0): the final state is h0 itself, so its cotangent passes straight through
  // (the chunk loop above, which writes dh0 at t = 0, never ran).
  if (L == 0 && has_h0) {
    for (long long n = threadIdx.x; n < N; n += C::kThreads) {
      dh0[row * N + n] = has_dlast ? dlast[row * N + n] : T(0);
    }
  }
}
