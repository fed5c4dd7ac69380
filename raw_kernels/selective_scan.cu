// Selective scan (S6 / Mamba) with lrnnx's six discretizations, real or complex A; fwd and bwd.
//
// Layout: u, delta, deltaA, z, out and their gradients are (B, D, L) contiguous; A (D, N); B/C
// constant (D, N) or variable (B, G, N, L) (G = 1 for lrnnx's (B, N, L)); B and C have their own
// group counts GB, GC (a (B, N, L) B may meet a (B, 2, N, L) C); h0, dlast, dh0 (B, D, N);
// chunk-boundary states (B, D, n_chunks, N).
//
// Design (spec §8, performance.md §2.1, with two changes):
// * One WARP per (b, d) channel, kWarps channels of one batch row per block. A channel's chunk of
//   32*K steps lives in registers (K consecutive steps per lane); per state n the lanes compose
//   their K affine maps, one warp shuffle scan gives each lane its entering state, and the
//   running state is carried across chunks (common.cuh's warp_chunk_scan). No __syncthreads in the forward at all, and the
//   kWarps channels of a block read the same variable B/C rows at the same time (L1 hits), which
//   divides the L2 traffic of B/C by kWarps compared with one block per channel.
// * The state is carried across chunks through the chunk-boundary buffer the backward needs
//   anyway (lane 0 writes it, __syncwarp orders it), so N is unbounded (no MAX_DSTATE).
// The backward walks chunks in reverse, recomputes the states inside the chunk from the saved
// boundary state (h_{t-1} is read, never recovered by dividing by Ā), runs a reverse warp scan
// for the adjoint λ_t = c_t gy_t + conj(Ā_{t+1}) λ_{t+1}, and reduces gradients: per-channel
// parameters by warp sums + atomics (B-way contention), variable dB/dC first summed over the
// block's channels in shared memory, then atomically added (D/(G*kWarps)-way contention).
#include "common.cuh"

using namespace lrnnx;

template <bool C, typename T, typename F> struct cond_ { using type = T; };
template <typename T, typename F> struct cond_<false, T, F> { using type = F; };
template <typename R, int kCplx> using state_t = typename cond_<kCplx != 0, complex<R>, R>::type;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;

// Steps per lane: ~64 bytes of state pairs per lane in the forward, half in the backward (it
// keeps four per-step arrays per state).
template <typename S> struct ItemsF { static constexpr int value = sizeof(S) == 4 ? 16 : (sizeof(S) == 8 ? 8 : 4); };
template <typename S> struct ItemsB { static constexpr int value = ItemsF<S>::value / 2; };

enum { kMamba = 0, kZoh = 1, kBilinear = 2, kDirac = 3, kS7 = 4, kRglru = 5 };

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
template <typename R> __device__ __forceinline__ complex<R> exp_(complex<R> x) { return exp(x); }
// Where zoh's φ / φ' use their Taylor series (7 terms: truncation < 3e-12 at |x| = 0.1 in
// float, < 3e-19 at |x| = 0.01 in double). Outside, φ' = (x e^x - expm1 x)/x² cancels with a
// relative error ~ 4 eps/|x|: 3e-6 (float) / 5e-14 (double) at the thresholds.
__device__ __forceinline__ bool small_(float x) { return fabsf(x) < 1e-1f; }
__device__ __forceinline__ bool small_(double x) { return fabs(x) < 1e-2; }
template <typename R> __device__ __forceinline__ bool small_(complex<R> x) {
  return norm(x) < (sizeof(R) == 4 ? R(1e-2) : R(1e-4));
}

// Re(conj(a) * b)
__device__ __forceinline__ float re_cm_(float a, float b) { return a * b; }
__device__ __forceinline__ double re_cm_(double a, double b) { return a * b; }
template <typename R> __device__ __forceinline__ R re_cm_(complex<R> a, complex<R> b) {
  return a.real() * b.real() + a.imag() * b.imag();
}
// Output coefficient: C*h for real A, 2*Re(C*h) for complex A.
__device__ __forceinline__ float out_(float c, float h) { return c * h; }
__device__ __forceinline__ double out_(double c, double h) { return c * h; }
template <typename R> __device__ __forceinline__ R out_(complex<R> c, complex<R> h) {
  return R(2) * (c.real() * h.real() - c.imag() * h.imag());
}
// dy/dh in PyTorch's convention for y = out_(c, h): c, or 2*conj(c) (also dy/dc with c <-> h).
__device__ __forceinline__ float seed_(float c) { return c; }
__device__ __forceinline__ double seed_(double c) { return c; }
template <typename R> __device__ __forceinline__ complex<R> seed_(complex<R> c) { return R(2) * conj(c); }

__device__ __forceinline__ void atomic_add_(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add_(double* p, double v) { atomicAdd(p, v); }
template <typename R> __device__ __forceinline__ void atomic_add_(complex<R>* p, complex<R> v) {
  R* q = reinterpret_cast<R*>(p);
  atomicAdd(q, v.real());
  atomicAdd(q + 1, v.imag());
}

template <typename T> __device__ __forceinline__ T warp_sum_(T v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += shfl_down_(v, d);
  return v;  // valid in lane 0
}

// Ā, input coefficient γ (b̄ = γ·B·u) and, with kDerivs, their partial derivatives
// (holomorphic in A). Same formulas as ops/selective_scan/_generic.discretize.
template <typename S> struct Disc {
  S Abar, gamma, dAb_ddA, dAb_dA, dg_dd, dg_ddA, dg_dA;
};

// With kReuse the caller passes Ā = exp(Δᴬ A) already computed (the backward's recompute), so
// the exp family costs no second exp for the derivatives.
template <bool kDerivs, bool kReuse = false, typename R, typename S>
__device__ __forceinline__ Disc<S> discretize_(int method, R dt, R dtA, S A, R lnA,
                                               S abar_in = S(0)) {
  Disc<S> o;
  o.dAb_ddA = o.dAb_dA = o.dg_dd = o.dg_ddA = o.dg_dA = S(0);
  if (method == kMamba || method == kDirac || method == kZoh) {
    o.Abar = kReuse ? abar_in : exp_(A * dtA);
    if (kDerivs) {
      o.dAb_ddA = A * o.Abar;
      o.dAb_dA = o.Abar * dtA;
    }
    if (method == kMamba) {
      o.gamma = S(dt);
      if (kDerivs) o.dg_dd = S(1);
    } else if (method == kDirac) {
      o.gamma = S(1);
    } else {
      // γ = Δ φ(x), φ(x) = expm1(x)/x, x = ΔA; series near 0 (no 0/0, no cancellation).
      const S x = A * dt;
      const bool sm = small_(x);
      S phi, dphi = S(0);
      if (sm) {
        phi = S(1) + x * (R(0.5) + x * (R(1) / R(6) + x * (R(1) / R(24) + x * (R(1) / R(120) +
              x * (R(1) / R(720) + x / R(5040))))));
        if (kDerivs) {
          dphi = R(0.5) + x * (R(1) / R(3) + x * (R(0.125) + x * (R(1) / R(30) + x * (R(1) / R(144) +
                 x * (R(1) / R(840) + x / R(5760))))));
        }
      } else {
        const S em1 = expm1_(x);
        phi = em1 / x;
        if (kDerivs) dphi = (x * (em1 + S(1)) - em1) / (x * x);
      }
      o.gamma = phi * dt;
      if (kDerivs) {
        o.dg_dd = exp_(x);
        o.dg_dA = dphi * (dt * dt);
      }
    }
  } else if (method == kBilinear) {
    const S den = S(1) - A * (dtA * R(0.5));
    o.Abar = (S(1) + A * (dtA * R(0.5))) / den;
    const S s = S(1) / (S(1) - A * (dt * R(0.5)));
    o.gamma = s * dt;
    if (kDerivs) {
      const S inv2 = S(1) / (den * den);
      o.dAb_ddA = A * inv2;
      o.dAb_dA = inv2 * dtA;
      o.dg_dd = s * s;
      o.dg_dA = s * s * (dt * dt * R(0.5));
    }
  } else if (method == kS7) {
    const R w = dtA * dtA + R(0.5);
    o.Abar = S(R(1) - R(1) / w);
    o.gamma = S(1);
    if (kDerivs) o.dAb_ddA = S(R(2) * dtA / (w * w));
  } else {  // kRglru (real A only; the launcher enforces it)
    const R ab = exp_(dtA * lnA);
    // 1 - Ā² as -expm1(2x): 1 - ab*ab cancels to 0 when Ā ~ 1 (tiny Δ or A near 1), so γ = 0.
    const R om = -expm1_(R(2) * (dtA * lnA));
    const R gm = om > R(0) ? sqrt(om) : R(0);
    o.Abar = S(ab);
    o.gamma = S(gm);
    if (kDerivs) {
      const R Ar = real_(A);
      const R d_dda = ab * lnA, d_dA = dtA * ab / Ar;
      const R dg = om > R(0) ? -ab / gm : R(0);  // dγ/dĀ, zero where γ = 0 (as lrnnx)
      o.dAb_ddA = S(d_dda);
      o.dAb_dA = S(d_dA);
      o.dg_ddA = S(dg * d_dda);
      o.dg_dA = S(dg * d_dA);
    }
  }
  return o;
}

template <typename S> struct Row {
  // Variable rows (b, g, n, t) or constant (d, n).
  const S* p;
  long long L;
  int var;
  __device__ __forceinline__ S at(long long n, long long t) const { return var ? p[n * L + t] : p[n]; }
};

// Forward. Writes out (when has_out) and the state at the end of every chunk of 32*K steps.
template <typename R, int kCplx, int K>
__global__ void __launch_bounds__(kThreads)
lrnnx_selective_scan_fwd(const R* __restrict__ u, const R* __restrict__ delta,
                         const R* __restrict__ deltaA, const state_t<R, kCplx>* __restrict__ A,
                         const state_t<R, kCplx>* __restrict__ Bm,
                         const state_t<R, kCplx>* __restrict__ Cm, const R* __restrict__ Dv,
                         const R* __restrict__ z, const R* __restrict__ dbias,
                         const state_t<R, kCplx>* __restrict__ h0, R* __restrict__ out,
                         state_t<R, kCplx>* __restrict__ states, long long Bsz, long long Dm,
                         long long L, long long N, long long GB, long long GC,
                         long long n_chunks, int B_var, int C_var, int has_D, int has_z,
                         int has_bias, int softplus, int has_deltaA, int has_h0, int has_out,
                         int method) {
  using S = state_t<R, kCplx>;
  constexpr long long kChunk = 32LL * K;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long n_dblk = (Dm + kWarps - 1) / kWarps;
  const long long b = blockIdx.x / n_dblk;
  const long long d = (blockIdx.x % n_dblk) * kWarps + warp;
  if (b >= Bsz || d >= Dm) return;  // no block-wide barrier below
  const long long bd = b * Dm + d;
  const long long row = bd * L;
  const R bias = has_bias ? dbias[d] : R(0);
  const Row<S> Br{B_var ? Bm + (b * GB + d / (Dm / GB)) * N * L : Bm + d * N, L, B_var};
  const Row<S> Cr{C_var ? Cm + (b * GC + d / (Dm / GC)) * N * L : Cm + d * N, L, C_var};
  S* st = states + bd * n_chunks * N;
  for (long long c = 0; c < n_chunks; ++c) {
    const long long t0 = c * kChunk + (long long)lane * K;
    R dt[K], dta[K], uu[K], y[K];
#pragma unroll
    for (int i = 0; i < K; ++i) {
      const long long t = t0 + i;
      if (t < L) {
        const R r = delta[row + t] + bias;
        dt[i] = softplus ? softplus_(r) : r;
        dta[i] = has_deltaA ? deltaA[row + t] : dt[i];
        uu[i] = u[row + t];
      } else {
        dt[i] = dta[i] = uu[i] = R(0);
      }
      y[i] = R(0);
    }
    __syncwarp();  // the previous chunk's end states (lane 0's writes) are visible
    for (long long n = 0; n < N; ++n) {
      const S An = A[d * N + n];
      const R lnA = method == kRglru ? log(real_(An)) : R(0);
      const S carry = c == 0 ? (has_h0 ? h0[bd * N + n] : S(0)) : st[(c - 1) * N + n];
      const auto load = [&](int i) {
        const long long t = t0 + i;
        if (t >= L) return affine_identity<S>();  // padded steps leave the state unchanged
        const Disc<S> ds = discretize_<false>(method, dt[i], dta[i], An, lnA);
        return Affine<S>{ds.Abar, ds.gamma * Br.at(n, t) * uu[i]};
      };
      const S h = warp_chunk_scan<S, K>(load, carry, [&](int i, S, S hi) {
        // The backward's state-only pass (has_out = 0) skips C entirely.
        if (has_out && t0 + i < L) y[i] += out_(Cr.at(n, t0 + i), hi);
      });
      const S h_end = shfl_idx_(h, 31);
      if (lane == 0) st[c * N + n] = h_end;
    }
    if (has_out) {
      const R Dd = has_D ? Dv[d] : R(0);
#pragma unroll
      for (int i = 0; i < K; ++i) {
        const long long t = t0 + i;
        if (t < L) {
          R o = y[i] + Dd * uu[i];
          if (has_z) {
            const R zz = z[row + t];
            o *= zz * sigmoid_(zz);
          }
          out[row + t] = o;
        }
      }
    }
  }
}

// Backward. Needs the states of lrnnx_selective_scan_fwd<R, kCplx, ItemsB> (same chunking).
// Parameter gradients (dA, dB, dC, dD, dbias) must be zero-initialised: they are accumulated
// with atomics. dcarry is (B, D, N) scratch for the adjoint carried between chunks.
template <typename R, int kCplx>
__global__ void __launch_bounds__(kThreads)
lrnnx_selective_scan_bwd(const R* __restrict__ u, const R* __restrict__ delta,
                         const R* __restrict__ deltaA, const state_t<R, kCplx>* __restrict__ A,
                         const state_t<R, kCplx>* __restrict__ Bm,
                         const state_t<R, kCplx>* __restrict__ Cm, const R* __restrict__ Dv,
                         const R* __restrict__ z, const R* __restrict__ dbias,
                         const state_t<R, kCplx>* __restrict__ h0,
                         const state_t<R, kCplx>* __restrict__ states,
                         const R* __restrict__ dout, const state_t<R, kCplx>* __restrict__ dlast,
                         R* __restrict__ du, R* __restrict__ ddelta, R* __restrict__ ddeltaA,
                         R* __restrict__ dz, state_t<R, kCplx>* __restrict__ dA,
                         state_t<R, kCplx>* __restrict__ dB, state_t<R, kCplx>* __restrict__ dC,
                         R* __restrict__ dD, R* __restrict__ ddbias,
                         state_t<R, kCplx>* __restrict__ dh0, state_t<R, kCplx>* dcarry,
                         long long Bsz, long long Dm, long long L, long long N, long long GB,
                         long long GC, long long n_chunks, int B_var, int C_var, int has_D,
                         int has_z, int has_bias, int softplus, int has_deltaA, int has_h0,
                         int has_dlast, int method) {
  using S = state_t<R, kCplx>;
  constexpr int K = ItemsB<S>::value;
  constexpr long long kChunk = 32LL * K;
  __shared__ S red[2][kWarps][32 * K];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long n_dblk = (Dm + kWarps - 1) / kWarps;
  const long long b = blockIdx.x / n_dblk;
  const long long dblk0 = (blockIdx.x % n_dblk) * kWarps;
  if (b >= Bsz) return;  // uniform over the block
  // Warps past the last channel shadow channel Dm-1 so that every warp reaches the barriers;
  // they never write.
  const bool active = dblk0 + warp < Dm;
  const long long d = active ? dblk0 + warp : Dm - 1;
  const long long bd = b * Dm + d;
  const long long row = bd * L;
  const R bias = has_bias ? dbias[d] : R(0);
  const R Dd = has_D ? Dv[d] : R(0);
  const Row<S> Br{B_var ? Bm + (b * GB + d / (Dm / GB)) * N * L : Bm + d * N, L, B_var};
  const Row<S> Cr{C_var ? Cm + (b * GC + d / (Dm / GC)) * N * L : Cm + d * N, L, C_var};
  const S* st = states + bd * n_chunks * N;
  const bool block_reduce = B_var || C_var;
  R acc_D = R(0), acc_bias = R(0);
  for (long long c = n_chunks - 1; c >= 0; --c) {
    const long long t0 = c * kChunk + (long long)lane * K;
    R dt[K], dta[K], uu[K], gy[K], y[K], gu[K], gdt[K], gdta[K];
#pragma unroll
    for (int i = 0; i < K; ++i) {
      const long long t = t0 + i;
      if (t < L) {
        const R r = delta[row + t] + bias;
        dt[i] = softplus ? softplus_(r) : r;
        dta[i] = has_deltaA ? deltaA[row + t] : dt[i];
        uu[i] = u[row + t];
        const R g0 = dout[row + t];
        if (has_z) {
          const R zz = z[row + t];
          gy[i] = g0 * zz * sigmoid_(zz);
        } else {
          gy[i] = g0;
        }
      } else {
        dt[i] = dta[i] = uu[i] = gy[i] = R(0);
      }
      y[i] = gu[i] = gdt[i] = gdta[i] = R(0);
    }
    __syncwarp();  // dcarry written by lane 0 for the later chunk is visible
    for (long long n = 0; n < N; ++n) {
      const S An = A[d * N + n];
      const R lnA = method == kRglru ? log(real_(An)) : R(0);
      const S h_start = c == 0 ? (has_h0 ? h0[bd * N + n] : S(0)) : st[(c - 1) * N + n];
      // A padding warp shadows channel Dm-1, whose warp writes dcarry: it must not read it.
      const S carry = !active ? S(0)
                      : c == n_chunks - 1 ? (has_dlast ? dlast[bd * N + n] : S(0))
                                          : dcarry[bd * N + n];
      // 1. Recompute the states of this chunk: hp[i] = h_{t-1}, then the output sums.
      S a[K], hp[K], lam[K];
      const auto load = [&](int i) {
        const long long t = t0 + i;
        a[i] = S(1);
        if (t >= L) return affine_identity<S>();
        const Disc<S> ds = discretize_<false>(method, dt[i], dta[i], An, lnA);
        a[i] = ds.Abar;
        return Affine<S>{ds.Abar, ds.gamma * Br.at(n, t) * uu[i]};
      };
      S acc_C = S(0);
      warp_chunk_scan<S, K>(load, h_start, [&](int i, S before, S h) {
        hp[i] = before;
        const long long t = t0 + i;
        S gC = S(0);
        lam[i] = S(0);
        if (t < L) {
          const S Cv = Cr.at(n, t);
          y[i] += out_(Cv, h);
          lam[i] = seed_(Cv) * gy[i];  // β_t of the reverse scan
          gC = seed_(h) * gy[i];  // dC: gy h (real) or 2 gy conj(h) (complex)
        }
        if (C_var) {
          red[1][warp][lane * K + i] = active ? gC : S(0);
        } else {
          acc_C += gC;
        }
      });
      // 2. Reverse scan: λ_t = conj(Ā_{t+1}) λ_{t+1} + β_t; the map after this lane's last
      // step belongs to the next lane's first step; after the chunk's last step comes `carry`
      // (= conj(Ā) λ of the next chunk's first step, or dlast).
      S a_next = shfl_down_(a[0], 1);
      if (lane == 31) a_next = S(1);
      warp_chunk_scan<S, K, true>(
          [&](int i) { return Affine<S>{conj_(i == K - 1 ? a_next : a[i + 1]), lam[i]}; }, carry,
          [&](int i, S, S l) { lam[i] = l; });
      const S new_carry = shfl_idx_(conj_(a[0]) * lam[0], 0);
      __syncwarp();  // every lane has read dcarry before lane 0 overwrites it
      if (lane == 0 && active) {
        if (c > 0) {
          dcarry[bd * N + n] = new_carry;
        } else if (has_h0) {
          dh0[bd * N + n] = new_carry;
        }
      }
      // 3. Per-step gradients through Ā and b̄ = γ B u.
      S acc_A = S(0), acc_B = S(0);
#pragma unroll
      for (int i = 0; i < K; ++i) {
        const long long t = t0 + i;
        S gB = S(0);
        if (t < L) {
          const Disc<S> ds = discretize_<true, true>(method, dt[i], dta[i], An, lnA, a[i]);
          const S Bv = Br.at(n, t);
          const S GA = lam[i] * conj_(hp[i]);
          const S LB = lam[i] * conj_(Bv);  // G_γ / u
          gdta[i] += re_cm_(ds.dAb_ddA, GA) + uu[i] * re_cm_(ds.dg_ddA, LB);
          gdt[i] += uu[i] * re_cm_(ds.dg_dd, LB);
          gu[i] += re_cm_(ds.gamma, LB);
          acc_A += conj_(ds.dAb_dA) * GA + conj_(ds.dg_dA) * LB * uu[i];
          gB = lam[i] * conj_(ds.gamma) * uu[i];
        }
        if (B_var) {
          red[0][warp][lane * K + i] = active ? gB : S(0);
        } else {
          acc_B += gB;
        }
      }
      acc_A = warp_sum_(acc_A);
      if (!B_var) acc_B = warp_sum_(acc_B);
      if (!C_var) acc_C = warp_sum_(acc_C);
      if (lane == 0 && active) {
        atomic_add_(dA + d * N + n, acc_A);
        if (!B_var) atomic_add_(dB + d * N + n, acc_B);
        if (!C_var) atomic_add_(dC + d * N + n, acc_C);
      }
      // 4. Variable dB/dC: sum the block's channels per group in smem, then one atomic each.
      if (block_reduce) {
        __syncthreads();
        for (int j = threadIdx.x; j < 32 * K; j += kThreads) {
          const long long t = c * kChunk + j;
          if (t >= L) continue;
#pragma unroll
          for (int which = 0; which < 2; ++which) {
            if (which == 0 ? !B_var : !C_var) continue;
            S* dst = which == 0 ? dB : dC;
            const long long Gx = which == 0 ? GB : GC;
            const long long Dg = Dm / Gx;
            S s = S(0);
            long long g_prev = -1;
            for (int w = 0; w < kWarps && dblk0 + w < Dm; ++w) {
              const long long gw = (dblk0 + w) / Dg;
              if (gw != g_prev && g_prev >= 0) {
                atomic_add_(dst + ((b * Gx + g_prev) * N + n) * L + t, s);
                s = S(0);
              }
              g_prev = gw;
              s += red[which][w][j];
            }
            if (g_prev >= 0) atomic_add_(dst + ((b * Gx + g_prev) * N + n) * L + t, s);
          }
        }
        __syncthreads();  // red is rewritten for the next state
      }
    }
    // 5. Per-step outputs: dz, du (+ D gy), the softplus chain for dΔ, and dD/dbias sums.
#pragma unroll
    for (int i = 0; i < K; ++i) {
      const long long t = t0 + i;
      if (t < L && active) {
        if (has_z) {
          const R zz = z[row + t];
          const R sg = sigmoid_(zz);
          dz[row + t] = dout[row + t] * (y[i] + Dd * uu[i]) * sg * (R(1) + zz * (R(1) - sg));
        }
        du[row + t] = gu[i] + Dd * gy[i];
        acc_D += gy[i] * uu[i];
        R gd = gdt[i];
        if (has_deltaA) {
          ddeltaA[row + t] = gdta[i];
        } else {
          gd += gdta[i];
        }
        if (softplus) {
          const R r = delta[row + t] + bias;
          if (r <= R(20)) gd *= sigmoid_(r);
        }
        ddelta[row + t] = gd;
        acc_bias += gd;
      }
    }
  }
  acc_D = warp_sum_(acc_D);
  acc_bias = warp_sum_(acc_bias);
  if (lane == 0 && active) {
    if (has_D) atomicAdd(dD + d, acc_D);
    if (has_bias) atomicAdd(ddbias + d, acc_bias);
  }
}
