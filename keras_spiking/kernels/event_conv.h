// Event-driven 2-D convolution: the work is proportional to the nonzero values.
//
// A spiking layer's output is mostly zeros (the CSNN's first Leaky layer fires
// at ~9 % of its units per step). A dense convolution multiplies every input;
// these kernels visit only the nonzero ones, and for each input x[n, y, x, c] = v
// add v * w[ky, kx, c, :] to every output pixel it reaches:
//
//   out[n, oy, ox, :] = bias + sum over (ky, kx, c) of x[n, oy*sh + ky - pt, ox*sw + kx - pl, c] * w[ky, kx, c, :]
//
// (NHWC input, HWIO filter, strides sh, sw, zero padding pt, pl at the top and
// left as TensorFlow's "VALID" / "SAME" give them, no dilation, one group).
// The filter gradient is the same visit with the output gradient in place of the
// filter: dw[ky, kx, c, :] = sum of x[n, y, x, c] * dout[n, oy, ox, :]. The input
// gradient visits the nonzero output gradients instead (a max pooling after the
// convolution leaves at most one in four): dx[n, y, x, :] = sum of
// dout[n, oy, ox, o] * w[ky, kx, :, o]. Results equal the dense convolution up to
// float32 rounding (the sums run in another order). keras_spiking/kernels/
// event_conv.py picks these kernels or the dense ones by the measured density of
// each batch. Masked AVX-512 stores are avoided where a loop runs per event: they
// made the input gradient 1.15x slower on this machine's CPU (measured). The per-event
// updates use fused multiply-adds (one rounding fewer; no measurable speed change).

//
// This header holds the computation, free of any framework: event_conv.cc wraps it
// as TensorFlow ops, event_conv_xla.cc as XLA FFI handlers for JAX. Each whole pass
// (conv2d, filter_grad, input_grad at the end) takes ``parallel(units, cost, work)``,
// which runs work(begin, end) over [0, units) on the framework's threads, and the
// number of blocks its partial sums are split into.

#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

// the per-event helpers: inlined into the loops that call them once per event
#define KS_INLINE inline __attribute__((always_inline))

namespace keras_spiking {

// one spatial axis: output size and the zero padding before the input
struct Axis {
  int64_t in, kernel, stride, out, pad;
};

inline Axis axis(int64_t in, int64_t kernel, int64_t stride, bool same) {
  Axis a{in, kernel, stride, 0, 0};
  if (same) {
    a.out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((a.out - 1) * stride + kernel - in, 0);
    a.pad = total / 2;
  } else {
    a.out = in >= kernel ? (in - kernel) / stride + 1 : 0;
  }
  return a;
}

// the filter taps k and output positions o that input position i reaches along one
// axis: f(k, o) for o * stride + k - pad == i, 0 <= k < kernel, 0 <= o < out (the
// largest o, i.e. the smallest k, first). Faster here than a precomputed table (measured).
template <class F>
KS_INLINE void taps(const Axis& a, int64_t i, F&& f) {
  const int64_t shifted = i + a.pad;  // = o * stride + k
  // (no division for the usual stride 1: it took a third of the forward pass)
  int64_t k = a.stride == 1 ? 0 : shifted % a.stride;
  int64_t o = a.stride == 1 ? shifted : shifted / a.stride;
  if (o >= a.out) {
    const int64_t skip = o - (a.out - 1);
    o -= skip;
    k += skip * a.stride;
  }
  for (; k < a.kernel && o >= 0; k += a.stride, --o) f(k, o);
}

// out[0:n] += v * w[0:n]
KS_INLINE void axpy(float* __restrict out, const float* __restrict w, float v, int64_t n) {
  int64_t q = 0;
#ifdef __AVX512F__
  const __m512 vv = _mm512_set1_ps(v);
  for (; q + 16 <= n; q += 16)
    _mm512_storeu_ps(out + q, _mm512_fmadd_ps(vv, _mm512_loadu_ps(w + q), _mm512_loadu_ps(out + q)));
  // the tail without masked stores (slow on some AVX-512 CPUs): 8, 4, then single floats
  if (q + 8 <= n) {
    const __m256 v8 = _mm256_set1_ps(v);
    _mm256_storeu_ps(out + q, _mm256_add_ps(_mm256_loadu_ps(out + q),
                                            _mm256_mul_ps(v8, _mm256_loadu_ps(w + q))));
    q += 8;
  }
  if (q + 4 <= n) {
    const __m128 v4 = _mm_set1_ps(v);
    _mm_storeu_ps(out + q, _mm_add_ps(_mm_loadu_ps(out + q), _mm_mul_ps(v4, _mm_loadu_ps(w + q))));
    q += 4;
  }
#endif
  for (; q < n; ++q) out[q] += v * w[q];
}

// out[0:n] (+)= sum over j < k of v[j] * w[c[j] * stride + (0:n)], out read (if
// ``add``; else overwritten) and written once
template <bool add = true>
KS_INLINE void gather_axpy(float* __restrict out, const float* __restrict w, int64_t stride,
                           const int32_t* c, const float* v, int k, int64_t n) {
#ifdef __AVX512F__
  int64_t q = 0;
  const auto start = [&](const float* o) { return add ? _mm512_loadu_ps(o) : _mm512_setzero_ps(); };
  for (; q + 64 <= n; q += 64) {  // four registers of outputs at a time
    __m512 a0 = start(out + q), a1 = start(out + q + 16);
    __m512 a2 = start(out + q + 32), a3 = start(out + q + 48);
    for (int j = 0; j < k; ++j) {
      const float* r = w + c[j] * stride + q;
      const __m512 vv = _mm512_set1_ps(v[j]);
      a0 = _mm512_fmadd_ps(vv, _mm512_loadu_ps(r), a0);
      a1 = _mm512_fmadd_ps(vv, _mm512_loadu_ps(r + 16), a1);
      a2 = _mm512_fmadd_ps(vv, _mm512_loadu_ps(r + 32), a2);
      a3 = _mm512_fmadd_ps(vv, _mm512_loadu_ps(r + 48), a3);
    }
    _mm512_storeu_ps(out + q, a0);
    _mm512_storeu_ps(out + q + 16, a1);
    _mm512_storeu_ps(out + q + 32, a2);
    _mm512_storeu_ps(out + q + 48, a3);
  }
  for (; q < n; q += 16) {  // a last part register
    const __mmask16 m = n - q >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - q)) - 1);
    __m512 a = add ? _mm512_maskz_loadu_ps(m, out + q) : _mm512_setzero_ps();
    for (int j = 0; j < k; ++j)
      a = _mm512_fmadd_ps(_mm512_set1_ps(v[j]), _mm512_maskz_loadu_ps(m, w + c[j] * stride + q), a);
    _mm512_mask_storeu_ps(out + q, m, a);
  }
#else
  if (!add) std::memset(out, 0, n * sizeof(float));
  for (int j = 0; j < k; ++j) axpy(out, w + c[j] * stride, v[j], n);
#endif
}

// the nonzero channels of one pixel: c[0:k] and their values v[0:k]; returns k (and
// adds x[0:channels] to total[0:channels], if given). With
// AVX-512 each register of 16 channels is compressed at once and stored whole, so c
// and v need room for 16 values past the last nonzero (``Events`` leaves it); the
// one-by-one loop it replaces took a quarter of the input gradient's time (measured).
KS_INLINE int nonzeros(const float* x, int64_t channels, int32_t* c, float* v,
                       float* total = nullptr) {
  int k = 0;
  int64_t i = 0;
#ifdef __AVX512F__
  const __m512 zero = _mm512_setzero_ps();
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (; i < channels; i += 16) {
    const int64_t left = channels - i;
    const __mmask16 valid = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1);
    const __m512 xi = _mm512_maskz_loadu_ps(valid, x + i);
    const __mmask16 m = _mm512_mask_cmp_ps_mask(valid, xi, zero, _CMP_NEQ_UQ);
    if (total) {
      if (valid == 0xffff) _mm512_storeu_ps(total + i, _mm512_add_ps(_mm512_loadu_ps(total + i), xi));
      else _mm512_mask_storeu_ps(total + i, valid, _mm512_add_ps(_mm512_maskz_loadu_ps(valid, total + i), xi));
    }
    _mm512_storeu_ps(v + k, _mm512_maskz_compress_ps(m, xi));
    _mm512_storeu_si512(c + k, _mm512_maskz_compress_epi32(
                                   m, _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(i)))));
    k += __builtin_popcount(m);
  }
#else
  for (; i < channels; ++i) {
    if (total) total[i] += x[i];
    if (x[i] != 0.0f) {
      c[k] = static_cast<int32_t>(i);
      v[k++] = x[i];
    }
  }
#endif
  return k;
}

struct Geometry {
  int64_t batch, channels, outputs;
  Axis rows, cols;
  // floats of one sample's input and output
  int64_t in_size() const { return rows.in * cols.in * channels; }
  int64_t out_size() const { return rows.out * cols.out * outputs; }
};


// ask for the cache lines of p[0:n] (the next sample's data, while this one is visited)
inline void prefetch(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) __builtin_prefetch(p + i, 0, 3);
}


// the nonzero values of one sample, pixel by pixel: pixel p's channels are
// c[start[p]:start[p + 1]] and its values v[start[p]:start[p + 1]]
struct Events {
  std::vector<int32_t> start, c;
  std::vector<float> v;

  Events(int64_t pixels, int64_t channels)
      : start(pixels + 1), c(pixels * channels + 16), v(pixels * channels + 16) {}

  // (and the sum of all pixels added to ``total``, if given)
  void collect(const float* xn, int64_t pixels, int64_t channels, float* total = nullptr) {
    int32_t k = 0;
    for (int64_t p = 0; p < pixels; ++p) {
      start[p] = k;
      k += nonzeros(xn + p * channels, channels, c.data() + k, v.data() + k, total);
    }
    start[pixels] = k;
  }
  int count(int64_t p) const { return start[p + 1] - start[p]; }
};

// The input gradient's visit and the stride-1 filter gradient's go through the
// filter one kernel row ky at a time: a row's weights (or filter gradient) stay in
// the L1 cache (32 KB here) while all of a sample's events use them; the whole
// 5x5x12x64 filter (77 KB) does not fit in it. (The forward pass done so was no
// faster: measured.)

// the forward pass's visit of sample n: for each pixel with nonzero inputs and each
// output pixel it reaches, out[oy, ox, :] += sum over its nonzero channels c of
// x[y, x, c] * w[ky, kx, c, :] (the output read and written once per tap)
inline void forward_events(const Geometry& g, const Events& e, const float* w, float* on) {
  const int64_t cols = g.cols.in, outputs = g.outputs, out_cols = g.cols.out;
  const int64_t kernel_cols = g.cols.kernel, tap_size = g.channels * outputs;
  for (int64_t y = 0; y < g.rows.in; ++y) {
    for (int64_t x = 0; x < cols; ++x) {
      const int64_t p = y * cols + x;
      const int k = e.count(p);
      if (k == 0) continue;
      const int32_t* c = e.c.data() + e.start[p];
      const float* v = e.v.data() + e.start[p];
      taps(g.rows, y, [&](int64_t ky, int64_t oy) {
        taps(g.cols, x, [&](int64_t kx, int64_t ox) {
          gather_axpy(on + (oy * out_cols + ox) * outputs, w + (ky * kernel_cols + kx) * tap_size,
                      outputs, c, v, k, outputs);
        });
      });
    }
  }
}

// the filter gradient's visit of sample n (any stride): for each nonzero input
// x[y, x, c] = v and each tap it reaches, dw[ky, kx, c, :] += v * dout[oy, ox, :]
inline void filter_events(const Geometry& g, const Events& e, const float* dn, float* dw) {
  const int64_t cols = g.cols.in, outputs = g.outputs, out_cols = g.cols.out;
  const int64_t kernel_cols = g.cols.kernel, tap_size = g.channels * outputs;
  for (int64_t y = 0; y < g.rows.in; ++y) {
    for (int64_t x = 0; x < cols; ++x) {
      const int64_t p = y * cols + x;
      for (int32_t j = e.start[p]; j < e.start[p + 1]; ++j) {
        float* dc = dw + e.c[j] * outputs;
        const float vj = e.v[j];
        taps(g.rows, y, [&](int64_t ky, int64_t oy) {
          taps(g.cols, x, [&](int64_t kx, int64_t ox) {
            axpy(dc + (ky * kernel_cols + kx) * tap_size, dn + (oy * out_cols + ox) * outputs, vj,
                 outputs);
          });
        });
      }
    }
  }
}

// one sample's nonzero inputs grouped by channel (each group in raster order, so
// its rows y ascend): channel c's are y, x, v[start[c]:start[c + 1]]
struct ChannelEvents {
  std::vector<int32_t> start, next, y, x;
  std::vector<float> v;

  ChannelEvents(int64_t pixels, int64_t channels)
      : start(channels + 1), next(channels), y(pixels * channels), x(pixels * channels),
        v(pixels * channels) {}

  // a counting sort of ``e``'s events by channel
  void collect(const Events& e, int64_t rows, int64_t cols, int64_t channels) {
    std::fill(start.begin(), start.end(), 0);
    for (int32_t i = 0; i < e.start[rows * cols]; ++i) ++start[e.c[i] + 1];
    for (int64_t c = 0; c < channels; ++c) start[c + 1] += start[c];
    std::copy(start.begin(), start.end() - 1, next.begin());
    for (int32_t r = 0, p = 0; r < rows; ++r)
      for (int32_t q = 0; q < cols; ++q, ++p)
        for (int32_t i = e.start[p]; i < e.start[p + 1]; ++i) {
          const int32_t k = next[e.c[i]]++;
          y[k] = r;
          x[k] = q;
          v[k] = e.v[i];
        }
  }
};

#ifdef __AVX512F__
// The filter gradient for stride 1 with the sums in registers: for each channel c,
// kernel row ky and block of 16 * B outputs, dw[ky, 0:KC, c, block] accumulates
// over the sample's events of channel c in KC * B registers (taps that miss the
// output are skipped), and is added to dw once. The per-event visit above reads
// and writes dw once per tap instead; with it the CSNN's filter gradient took 51
// CPU-ms at 9 % density, with this one (and the compressed nonzeros) 38 (measured).
template <int KC, int B>
void filter_events_unit_stride(const Geometry& g, const ChannelEvents& e, const float* dn,
                               float* dw) {
  const int64_t outputs = g.outputs, out_rows = g.rows.out, out_cols = g.cols.out;
  const int64_t channels = g.channels;
  for (int64_t block = 0; block < outputs; block += 16 * B) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t ky = 0; ky < g.rows.kernel; ++ky) {
        __m512 acc[KC][B];
        for (int kx = 0; kx < KC; ++kx)
          for (int b = 0; b < B; ++b) acc[kx][b] = _mm512_setzero_ps();
        for (int32_t j = e.start[c]; j < e.start[c + 1]; ++j) {
          const int64_t oy = e.y[j] + g.rows.pad - ky;
          if (oy < 0) continue;
          if (oy >= out_rows) break;  // the rows ascend
          const __m512 vv = _mm512_set1_ps(e.v[j]);
          const float* dr = dn + oy * out_cols * outputs + block;
          const int64_t shifted = e.x[j] + g.cols.pad;  // = ox + kx
          for (int kx = 0; kx < KC; ++kx) {
            const int64_t ox = shifted - kx;
            if (ox < 0 || ox >= out_cols) continue;
            const float* d = dr + ox * outputs;
            for (int b = 0; b < B; ++b)
              acc[kx][b] = _mm512_fmadd_ps(vv, _mm512_loadu_ps(d + 16 * b), acc[kx][b]);
          }
        }
        for (int kx = 0; kx < KC; ++kx) {
          float* w = dw + ((ky * KC + kx) * channels + c) * outputs + block;
          for (int b = 0; b < B; ++b)
            _mm512_storeu_ps(w + 16 * b, _mm512_add_ps(_mm512_loadu_ps(w + 16 * b), acc[kx][b]));
        }
      }
    }
  }
}

using FilterVisit = void (*)(const Geometry&, const ChannelEvents&, const float*, float*);

template <int B>
FilterVisit unit_stride_visit(int64_t kernel_cols) {
  switch (kernel_cols) {
    case 1: return filter_events_unit_stride<1, B>;
    case 2: return filter_events_unit_stride<2, B>;
    case 3: return filter_events_unit_stride<3, B>;
    case 4: return filter_events_unit_stride<4, B>;
    case 5: return filter_events_unit_stride<5, B>;
    default: return nullptr;
  }
}

// the register-accumulating visit for this geometry, or nullptr (then filter_events)
inline FilterVisit filter_visit(const Geometry& g) {
  if (g.rows.stride != 1 || g.cols.stride != 1 || g.outputs % 16) return nullptr;
  return g.outputs % 64 == 0 ? unit_stride_visit<4>(g.cols.kernel) : unit_stride_visit<1>(g.cols.kernel);
}
#endif

// the input gradient's visit of sample n: for each output pixel with nonzero output
// gradients dout[oy, ox, o] and each kernel row ky, sum[kx, :] = sum over the nonzero
// o of dout[oy, ox, o] * w[ky, kx, :, o] (wt: the filter as (ky, o, kx, c), each
// (ky, o) row padded to ``row`` floats), then dx[y, x, :] += sum[kx, :] for the taps
// that fall inside the input (one addition over the row where they all do)
inline void input_events(const Geometry& g, const Events& e, const float* wt, int64_t row,
                         float* dxn, float* sum) {
  const int64_t channels = g.channels, cols = g.cols.in, kernel_cols = g.cols.kernel;
  for (int64_t ky = 0; ky < g.rows.kernel; ++ky) {
    const float* wk = wt + ky * g.outputs * row;
    for (int64_t oy = 0; oy < g.rows.out; ++oy) {
      const int64_t y = oy * g.rows.stride + ky - g.rows.pad;
      if (y < 0 || y >= g.rows.in) continue;
      for (int64_t ox = 0; ox < g.cols.out; ++ox) {
        const int64_t p = oy * g.cols.out + ox;
        const int k = e.count(p);
        if (k == 0) continue;
        gather_axpy<false>(sum, wk, row, e.c.data() + e.start[p], e.v.data() + e.start[p], k, row);
        const int64_t x0 = ox * g.cols.stride - g.cols.pad;
        float* dx_row = dxn + y * cols * channels;
        if (x0 >= 0 && x0 + kernel_cols <= cols) {
          axpy(dx_row + x0 * channels, sum, 1.0f, kernel_cols * channels);
          continue;
        }
        for (int64_t kx = 0; kx < kernel_cols; ++kx) {
          const int64_t x = x0 + kx;
          if (x >= 0 && x < cols) axpy(dx_row + x * channels, sum + kx * channels, 1.0f, channels);
        }
      }
    }
  }
}


// ---- the three passes, over a whole batch ----------------------------------------

// runs work(begin, end) over [0, units) in parallel; ``cost`` is a unit's rough cost
using Work = std::function<void(int64_t, int64_t)>;

// work(block, first, last) for each of the ``blocks`` blocks of samples [first, last)
template <class Parallel, class F>
void over_blocks(Parallel&& parallel, int64_t batch, int64_t blocks, int64_t cost_per_sample, F&& work) {
  parallel(blocks, (batch / blocks + 1) * cost_per_sample, Work([&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block)
      work(block, block * batch / blocks, (block + 1) * batch / blocks);
  }));
}

// out = event-driven conv(x, w) + b (b may be nullptr: no bias)
template <class Parallel>
void conv2d(const Geometry& g, const float* xp, const float* w, const float* b, float* op,
            Parallel&& parallel) {
  const int64_t in_size = g.in_size(), out_pixels = g.rows.out * g.cols.out;
  parallel(g.batch, in_size * g.outputs, Work([&](int64_t begin, int64_t end) {
    Events events(g.rows.in * g.cols.in, g.channels);
    for (int64_t n = begin; n < end; ++n) {
      float* on = op + n * out_pixels * g.outputs;
      for (int64_t p = 0; p < out_pixels; ++p) {
        float* o = on + p * g.outputs;
        if (b) std::memcpy(o, b, g.outputs * sizeof(float));
        else std::memset(o, 0, g.outputs * sizeof(float));
      }
      events.collect(xp + n * in_size, g.rows.in * g.cols.in, g.channels);
      forward_events(g, events, w, on);
    }
  }));
}

// dw = sum over the batch of x (nonzeros only) times dout: one partial sum per block
// of samples, the blocks added in order (the same sum on every run)
template <class Parallel>
void filter_grad(const Geometry& g, const float* xp, const float* dp, float* result, int64_t blocks,
                 Parallel&& parallel) {
  const int64_t size = g.rows.kernel * g.cols.kernel * g.channels * g.outputs;
  std::vector<float> partial(blocks * size);
  float* parts = partial.data();
  const int64_t in_size = g.in_size(), out_size = g.out_size();
  over_blocks(parallel, g.batch, blocks, in_size * g.outputs, [&](int64_t block, int64_t first, int64_t last) {
    Events events(g.rows.in * g.cols.in, g.channels);
#ifdef __AVX512F__
    const FilterVisit visit = filter_visit(g);
    ChannelEvents by_channel(visit ? g.rows.in * g.cols.in : 0, g.channels);
#endif
    float* mine = parts + block * size;
    std::memset(mine, 0, size * sizeof(float));
    for (int64_t n = first; n < last; ++n) {
      // the visit reads dout in no fixed order: fetch the next sample's ahead
      if (n + 1 < last) prefetch(dp + (n + 1) * out_size, out_size);
      events.collect(xp + n * in_size, g.rows.in * g.cols.in, g.channels);
#ifdef __AVX512F__
      if (visit) {
        by_channel.collect(events, g.rows.in, g.cols.in, g.channels);
        visit(g, by_channel, dp + n * out_size, mine);
        continue;
      }
#endif
      filter_events(g, events, dp + n * out_size, mine);
    }
  });
  std::memcpy(result, parts, size * sizeof(float));
  for (int64_t block = 1; block < blocks; ++block) axpy(result, parts + block * size, 1.0f, size);
}

// dx = the transposed convolution of dout, visiting only dout's nonzero values (a
// max pooling after the convolution leaves at most one in four), and dbias = dout
// summed over the batch and the pixels (read on the way: a separate sum over the
// CSNN's 52 MB dout took 5.7 % of its training step's CPU time, perf)
template <class Parallel>
void input_grad(const Geometry& g, const float* w, const float* dp, float* dx, float* db,
                int64_t blocks, Parallel&& parallel) {
  // the filter as (ky, o, kx, c): one output channel's weights over a kernel row
  // contiguous, each row padded with zeros to whole 16-float registers
  const int64_t kernel_cols = g.cols.kernel, channels = g.channels, outputs = g.outputs;
  const int64_t row = (kernel_cols * channels + 15) / 16 * 16;
  std::vector<float> transposed(g.rows.kernel * outputs * row, 0.0f);
  float* wt = transposed.data();
  for (int64_t ky = 0; ky < g.rows.kernel; ++ky)
    for (int64_t kx = 0; kx < kernel_cols; ++kx)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t o = 0; o < outputs; ++o)
          wt[(ky * outputs + o) * row + kx * channels + c] =
              w[((ky * kernel_cols + kx) * channels + c) * outputs + o];
  const int64_t in_size = g.in_size(), out_size = g.out_size();
  // the bias gradient on the way, while each sample's dout is read anyway: per
  // sample in float, per block of samples in double, the blocks in order
  std::vector<double> block_sums(blocks * outputs, 0.0);
  over_blocks(parallel, g.batch, blocks, out_size * channels, [&](int64_t block, int64_t first, int64_t last) {
    Events events(g.rows.out * g.cols.out, outputs);
    std::vector<float> sum(row), sample_sum(outputs);
    double* block_sum = block_sums.data() + block * outputs;
    for (int64_t n = first; n < last; ++n) {
      float* dxn = dx + n * in_size;
      std::memset(dxn, 0, in_size * sizeof(float));
      std::fill(sample_sum.begin(), sample_sum.end(), 0.0f);
      events.collect(dp + n * out_size, g.rows.out * g.cols.out, outputs, sample_sum.data());
      for (int64_t o = 0; o < outputs; ++o) block_sum[o] += sample_sum[o];
      input_events(g, events, wt, row, dxn, sum.data());
    }
  });
  for (int64_t o = 0; o < outputs; ++o) {
    double total = 0.0;
    for (int64_t block = 0; block < blocks; ++block) total += block_sums[block * outputs + o];
    db[o] = static_cast<float>(total);
  }
}

}  // namespace keras_spiking
