// A deliberately broken kernel for the emulated tier's self-test: every thread stores its input
// in shared memory and then reads the value of a thread one warp further on. Without the
// barrier (SYNC = false) a thread may read before the other warp has written: the tier must
// report it (a NaN read of poisoned shared memory under the greedy schedule, a data race under
// ThreadSanitizer). With the barrier (SYNC = true) both must pass.
template <bool SYNC>
__global__ void __launch_bounds__(128) rotate_by_one_warp(const float* x, float* y, int n) {
  __shared__ float buf[128];
  const int t = threadIdx.x;
  buf[t] = t < n ? x[t] : 0.0f;
  if (SYNC) __syncthreads();
  if (t < n) y[t] = buf[(t + 32) % 128];
}
