// Fused CPU kernels for TensorFlow: a threshold neuron scanned over the whole
// time axis in one op, and its backward pass in one op.
//
// The update is keras_spiking.neurons.step for a first-order neuron (no
// synapse, refractory period, recurrence, integer state or voltage floor), per
// step t, with x[t] the input times the gain (attr gain: the product taken as
// neurons.hoist takes it, one rounding):
//
//   delayed reset (snnTorch), r = H(v[t-1] - threshold):
//     zero:     v = v[t-1] (1 - r)
//     v[t] = decay v + x[t]
//     subtract: v[t] -= threshold r
//     u[t] = v[t]                     (the voltage that is thresholded)
//   immediate reset (Nengo, NIR, SpikingJelly):
//     u[t] = decay v[t-1] + x[t]
//     s[t] = H(u[t] - threshold)
//     subtract: v[t] = u[t] - threshold s[t];  zero: v[t] = u[t] (1 - s[t])
//   s[t] = H(u[t] - threshold),  H(z) = 1 if z > 0, NaN if z is NaN, else 0.
//   static input (attr steps > 0): x is (batch, units), the same current at each of
//   the steps (what RepeatTime would repeat), and its gradient is summed over time;
//   output: amplitude s[t] (the loop's spikes times the hoisted amplitude, one product);
//   u[t] is written only when asked for (attr voltage: for the backward pass or the
//   caller), else the op only reads x and writes the spikes.
//   without a threshold (a synaptic filter, spiking = false): u[t] = v[t] = decay v[t-1] + x[t];
//   the backward pass is then the one of reset "none" with an infinite threshold.
//
// The products and sums are taken in the same order as the keras.ops loop and
// built without contraction into fused multiply-adds (-ffp-contract=off), so
// the spikes and voltages equal that loop's bit for bit. The backward pass is
// the loop's gradient with the reset detached (no gradient through r or
// through the reset's spikes) and the spikes' derivative replaced by one of
// keras_spiking.surrogates' derivatives, named by an integer code.
//
// Work is split over the batch: one batch row's neurons scan their time axis
// in one thread, contiguous in the unit axis (vectorised by the compiler).

#include <cmath>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace keras_spiking {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;

enum Reset { kSubtract = 0, kZero = 1, kNone = 2 };

// surrogate codes: keras_spiking/kernels/fused.py's SURROGATE_CODES
enum Surrogate {
  kNoGradient = 0,
  kStraightThrough = 1,
  kFastSigmoid = 2,
  kATan = 3,
  kSigmoid = 4,
  kTriangular = 5,
  kSpikeRateEscape = 6,
};

// branch-free, so that the loops over units vectorise: z != z only for NaN
inline float heaviside(float z) {
  const float h = z > 0.0f ? 1.0f : 0.0f;
  return z != z ? z : h;
}

// ds/dz of each surrogate at z = u - threshold; p, q: its parameters, as the
// Python side computes them (surrogates.py's expressions, constants folded there)
inline float derivative(int code, float z, float p, float q) {
  switch (code) {
    case kStraightThrough:
      return 1.0f;
    case kFastSigmoid: {  // 1 / (slope |z| + 1)^2; p = slope
      const float a = p * std::fabs(z) + 1.0f;
      return 1.0f / (a * a);
    }
    case kATan: {  // half / (1 + (pi half z)^2); p = half, q = pi half
      const float a = q * z;
      return p / (1.0f + a * a);
    }
    case kSigmoid: {  // slope sig(slope z) sig(-slope z); p = slope
      const float k = p * z;
      return p * (1.0f / (1.0f + std::exp(-k))) * (1.0f / (1.0f + std::exp(k)));
    }
    case kTriangular: {  // relu(1 - |z| / width) / width; p = width
      const float a = 1.0f - std::fabs(z) / p;
      return (a > 0.0f ? a : 0.0f) / p;
    }
    case kSpikeRateEscape:  // slope exp(-beta |z|); p = beta, q = slope
      return q * std::exp(-p * std::fabs(z));
    default:
      return 0.0f;
  }
}

// a parameter of one value or one per unit, as one value per unit
inline std::vector<float> per_unit(const Tensor& t, int64_t n) {
  const float* p = t.flat<float>().data();
  if (t.NumElements() == 1) return std::vector<float>(n, p[0]);
  return std::vector<float>(p, p + n);
}

// x: (batch, time, units), or (batch, units) for a static input
inline tensorflow::Status check_inputs(const Tensor& x, const Tensor& v0, const Tensor& decay,
                                       const Tensor& threshold, bool static_input = false) {
  if (x.dims() != (static_input ? 2 : 3))
    return tensorflow::errors::InvalidArgument(
        static_input ? "a static x must be (batch, units), got "
                     : "x must be (batch, time, units), got ",
        x.shape().DebugString());
  const int64_t n = x.dim_size(x.dims() - 1);
  if (v0.dims() != 2 || v0.dim_size(0) != x.dim_size(0) || v0.dim_size(1) != n)
    return tensorflow::errors::InvalidArgument("v0 must be (batch, units), got ",
                                               v0.shape().DebugString());
  for (const Tensor* t : {&decay, &threshold})
    if (t->NumElements() != 1 && t->NumElements() != n)
      return tensorflow::errors::InvalidArgument(
          "decay and threshold must have 1 or ", n, " values, got ", t->NumElements());
  return tensorflow::OkStatus();
}

inline int reset_code(OpKernelConstruction* ctx) {
  std::string reset;
  const tensorflow::Status status = ctx->GetAttr("reset", &reset);
  if (!status.ok()) ctx->CtxFailure(__FILE__, __LINE__, status);
  return reset == "subtract" ? kSubtract : reset == "zero" ? kZero : kNone;
}

inline void shard(OpKernelContext* ctx, int64_t rows, int64_t cost_per_row,
                  const std::function<void(int64_t, int64_t)>& work) {
  auto* threads = ctx->device()->tensorflow_cpu_worker_threads();
  tensorflow::Shard(threads->num_threads, threads->workers, rows, cost_per_row, work);
}

template <int v>
using IntTag = std::integral_constant<int, v>;
template <bool v>
using BoolTag = std::integral_constant<bool, v>;

// calls f(IntTag<reset>, BoolTag<delayed>) with compile-time values
template <class F>
void dispatch(int reset, bool delayed, F&& f) {
  if (delayed) {
    if (reset == kSubtract) f(IntTag<kSubtract>(), BoolTag<true>());
    else if (reset == kZero) f(IntTag<kZero>(), BoolTag<true>());
    else f(IntTag<kNone>(), BoolTag<false>());
  } else {
    if (reset == kSubtract) f(IntTag<kSubtract>(), BoolTag<false>());
    else if (reset == kZero) f(IntTag<kZero>(), BoolTag<false>());
    else f(IntTag<kNone>(), BoolTag<false>());
  }
}

// one batch row: x, spikes, u are (T, N), v0 and v (the carried state) (N,);
// u is written only with kStoreU; x advances by x_step per step (0: a static input)
template <int kReset, bool kDelayed, bool kStoreU>
void forward_row(int64_t T, int64_t N, const float* __restrict__ x, int64_t x_step,
                 const float* __restrict__ v0, const float* __restrict__ dc,
                 const float* __restrict__ th, float gain, float amplitude,
                 float* __restrict__ spikes,
                 float* __restrict__ u, float* __restrict__ v) {
  std::copy(v0, v0 + N, v);
  for (int64_t t = 0; t < T; ++t) {
    const float* __restrict__ xt = x + t * x_step;
    float* __restrict__ st = spikes + t * N;
    float* __restrict__ ut = kStoreU ? u + t * N : nullptr;
    for (int64_t n = 0; n < N; ++n) {
      float vn = v[n];
      if (kDelayed) {
        const float r = heaviside(vn - th[n]);
        if (kReset == kZero) vn = vn * (1.0f - r);
        vn = dc[n] * vn;
        vn = vn + gain * xt[n];
        if (kReset == kSubtract) vn = vn - th[n] * r;
        if (kStoreU) ut[n] = vn;
        st[n] = amplitude * heaviside(vn - th[n]);
      } else {
        vn = dc[n] * vn;
        vn = vn + gain * xt[n];
        if (kStoreU) ut[n] = vn;
        const float s = heaviside(vn - th[n]);
        st[n] = amplitude * s;
        if (kReset == kSubtract) vn = vn - th[n] * s;
        if (kReset == kZero) vn = vn * (1.0f - s);
      }
      v[n] = vn;
    }
  }
}

// one batch row of a neuron without threshold (a synaptic filter): u[t] = decay v[t-1] + x[t]
inline void filter_row(int64_t T, int64_t N, const float* __restrict__ x, int64_t x_step,
                       const float* __restrict__ v0, const float* __restrict__ dc, float gain,
                       float* __restrict__ u, float* __restrict__ v) {
  std::copy(v0, v0 + N, v);
  for (int64_t t = 0; t < T; ++t) {
    const float* __restrict__ xt = x + t * x_step;
    float* __restrict__ ut = u + t * N;
    for (int64_t n = 0; n < N; ++n) {
      float vn = dc[n] * v[n];
      vn = vn + gain * xt[n];
      ut[n] = vn;
      v[n] = vn;
    }
  }
}

class ThresholdScanOp : public OpKernel {
 public:
  explicit ThresholdScanOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    reset_ = reset_code(ctx);
    OP_REQUIRES_OK(ctx, ctx->GetAttr("delayed", &delayed_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("spiking", &spiking_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("amplitude", &amplitude_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("voltage", &voltage_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("gain", &gain_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("steps", &steps_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &v0 = ctx->input(1);
    const Tensor &decay_t = ctx->input(2), &threshold_t = ctx->input(3);
    const bool static_input = steps_ > 0;
    OP_REQUIRES_OK(ctx, check_inputs(x, v0, decay_t, threshold_t, static_input));
    const int64_t B = x.dim_size(0), N = x.dim_size(x.dims() - 1);
    const int64_t T = static_input ? steps_ : x.dim_size(1);
    const TensorShape out_shape({B, T, N});
    // x per row and per step
    const int64_t x_row = static_input ? N : T * N, x_step = static_input ? 0 : N;
    Tensor *spikes_t = nullptr, *u_t = nullptr, *v_last_t = nullptr;
    // without a threshold there are no spikes: an empty first output
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, spiking_ ? out_shape : TensorShape({0}),
                                             &spikes_t));
    // a synaptic filter's output is its voltage: always written
    const bool store_u = voltage_ || !spiking_;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, store_u ? out_shape : TensorShape({0}), &u_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, v0.shape(), &v_last_t));
    const std::vector<float> decay = per_unit(decay_t, N), threshold = per_unit(threshold_t, N);
    const float* xp = x.flat<float>().data();
    const float* v0p = v0.flat<float>().data();
    float* sp = spikes_t->flat<float>().data();
    float* up = store_u ? u_t->flat<float>().data() : nullptr;
    float* vlp = v_last_t->flat<float>().data();
    const int reset = reset_;
    const bool delayed = delayed_ && reset != kNone;
    const float* dc = decay.data();
    const float* th = threshold.data();
    const float gain = gain_;
    if (!spiking_) {
      shard(ctx, B, T * N * 4, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b)
          filter_row(T, N, xp + b * x_row, x_step, v0p + b * N, dc, gain, up + b * T * N,
                     vlp + b * N);
      });
      return;
    }
    const float amplitude = amplitude_;
    auto run = [&](auto reset_tag, auto delayed_tag) {
      constexpr int kReset = decltype(reset_tag)::value;
      constexpr bool kDelayed = decltype(delayed_tag)::value;
      auto rows = [&](auto store_tag) {
        constexpr bool kStoreU = decltype(store_tag)::value;
        shard(ctx, B, T * N * (kStoreU ? 8 : 6), [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b)
            forward_row<kReset, kDelayed, kStoreU>(
                T, N, xp + b * x_row, x_step, v0p + b * N, dc, th, gain, amplitude,
                sp + b * T * N,
                kStoreU ? up + b * T * N : nullptr, vlp + b * N);
        });
      };
      if (store_u) rows(BoolTag<true>());
      else rows(BoolTag<false>());
    };
    dispatch(reset, delayed, run);
  }

 private:
  int reset_;
  bool delayed_, spiking_, voltage_;
  float amplitude_, gain_;
  int steps_;
};

// Gradients of (spikes, u, v_last) -> (x, v0, decay, threshold), reset detached;
// ds is the gradient of the output amplitude s[t].
//
// G[t] = dL/du[t] in total, C the gradient reaching step t from step t+1:
//   delayed:   G[t] = ds[t] g'(z[t]) + du[t] + C,   C(t-1) = decay k[t] G[t]
//              (k[t] = 1 - r[t] for a zero reset, else 1)
//   immediate: G[t] = ds[t] g'(z[t]) + du[t] + C m[t],   C(t-1) = decay G[t]
//              (m[t] = 1 - s[t] for a zero reset, else 1)
// with C = dv_last at the last step; dx[t] = gain G[t], dv0 = C(-1). The decay's
// gradient sums G[t] times the value it multiplied, the threshold's the
// spikes' -ds g' and, for a subtractive reset, minus the gradient reaching the
// subtracted term.
// kSum: a static input's gradient, dx (N,) summed over the steps (from the last)
template <int kReset, bool kDelayed, int kCode, bool kSum>
void backward_row(int64_t T, int64_t N, const float* __restrict__ ds,
                  const float* __restrict__ du, const float* __restrict__ dv_last,
                  const float* __restrict__ u, const float* __restrict__ v0,
                  const float* __restrict__ dc, const float* __restrict__ th, float p, float q,
                  float gain, float amplitude, float* __restrict__ carry,
                  float* __restrict__ dx, float* __restrict__ dv0, float* __restrict__ ddecay,
                  float* __restrict__ dth, const float* __restrict__ zeros) {
  std::fill(ddecay, ddecay + N, 0.0f);
  std::fill(dth, dth + N, 0.0f);
  if (kSum) std::fill(dx, dx + N, 0.0f);
  if (dv_last) std::copy(dv_last, dv_last + N, carry);
  else std::fill(carry, carry + N, 0.0f);
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* __restrict__ ut = u + t * N;
    const float* __restrict__ prev = t > 0 ? ut - N : v0;  // u[t-1] (v0 at t = 0)
    const float* __restrict__ dst = ds ? ds + t * N : zeros;  // no gradient: a row of 0
    const float* __restrict__ dut = du ? du + t * N : zeros;
    float* __restrict__ dxt = kSum ? dx : dx + t * N;
    const float after_first = t > 0 ? 1.0f : 0.0f;  // v0 is already after its reset
    for (int64_t n = 0; n < N; ++n) {
      const float z = ut[n] - th[n];
      const float e =
          kCode != kNoGradient ? (dst[n] * amplitude) * derivative(kCode, z, p, q) : 0.0f;
      float g = e + dut[n];
      float into;  // the value the decay multiplied at this step
      if (kDelayed) {
        g += carry[n];
        const float r = heaviside(prev[n] - th[n]);
        const float k = kReset == kZero ? 1.0f - r : 1.0f;
        into = prev[n] * k;
        if (kReset == kSubtract) dth[n] -= r * g;
        carry[n] = dc[n] * k * g;
      } else {
        const float s = heaviside(z);
        g += kReset == kZero ? carry[n] * (1.0f - s) : carry[n];
        if (kReset == kSubtract) dth[n] -= s * carry[n];
        // v[t-1] after its reset, recomputed with the forward pass's ops
        float vp = prev[n];
        const float sp = heaviside(vp - th[n]) * after_first;
        if (kReset == kSubtract) vp = vp - th[n] * sp;
        if (kReset == kZero) vp = vp * (1.0f - sp);
        into = vp;
        carry[n] = dc[n] * g;
      }
      dth[n] -= e;
      ddecay[n] += g * into;
      if (kSum) dxt[n] += g * gain;
      else dxt[n] = g * gain;
    }
  }
  std::copy(carry, carry + N, dv0);
}

class ThresholdScanGradOp : public OpKernel {
 public:
  explicit ThresholdScanGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    reset_ = reset_code(ctx);
    OP_REQUIRES_OK(ctx, ctx->GetAttr("delayed", &delayed_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("surrogate", &surrogate_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("p", &p_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("q", &q_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("amplitude", &amplitude_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("gain", &gain_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("steps", &steps_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &ds_t = ctx->input(0), &du_t = ctx->input(1), &dvl_t = ctx->input(2);
    const Tensor &u_t = ctx->input(3), &v0 = ctx->input(4);
    const Tensor &decay_t = ctx->input(5), &threshold_t = ctx->input(6);
    OP_REQUIRES_OK(ctx, check_inputs(u_t, v0, decay_t, threshold_t));
    const int64_t B = u_t.dim_size(0), T = u_t.dim_size(1), N = u_t.dim_size(2);
    Tensor *dx_t = nullptr, *dv0_t = nullptr, *ddecay_t = nullptr, *dth_t = nullptr;
    const bool sum = steps_ > 0;  // a static input: dx is (batch, units)
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, sum ? v0.shape() : u_t.shape(), &dx_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, v0.shape(), &dv0_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, v0.shape(), &ddecay_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, v0.shape(), &dth_t));
    const std::vector<float> decay = per_unit(decay_t, N), threshold = per_unit(threshold_t, N);
    // du and dv_last may be empty: no gradient reached them
    const float* dsp = ds_t.NumElements() ? ds_t.flat<float>().data() : nullptr;
    const float* dup = du_t.NumElements() ? du_t.flat<float>().data() : nullptr;
    const float* dvlp = dvl_t.NumElements() ? dvl_t.flat<float>().data() : nullptr;
    const float* up = u_t.flat<float>().data();
    const float* v0p = v0.flat<float>().data();
    float* dxp = dx_t->flat<float>().data();
    float* dv0p = dv0_t->flat<float>().data();
    float* ddp = ddecay_t->flat<float>().data();
    float* dtp = dth_t->flat<float>().data();
    const int reset = reset_, code = surrogate_;
    const bool delayed = delayed_ && reset != kNone;
    const float p = p_, q = q_, amplitude = amplitude_, gain = gain_;
    const float* dc = decay.data();
    const float* th = threshold.data();

    auto run = [&](auto reset_tag, auto delayed_tag) {
      constexpr int kReset = decltype(reset_tag)::value;
      constexpr bool kDelayed = decltype(delayed_tag)::value;
      auto with = [&](auto code_tag) {
        constexpr int kCode = decltype(code_tag)::value;
        auto rows_of = [&](auto sum_tag) {
          constexpr bool kSum = decltype(sum_tag)::value;
          shard(ctx, B, T * N * 12, [&](int64_t begin, int64_t end) {
            std::vector<float> carry(N), zeros(N, 0.0f);
            for (int64_t b = begin; b < end; ++b) {
              const int64_t rows = b * T * N;
              backward_row<kReset, kDelayed, kCode, kSum>(
                  T, N, dsp ? dsp + rows : nullptr, dup ? dup + rows : nullptr,
                  dvlp ? dvlp + b * N : nullptr, up + rows, v0p + b * N, dc, th, p, q,
                  gain, amplitude, carry.data(), dxp + (kSum ? b * N : rows), dv0p + b * N,
                  ddp + b * N, dtp + b * N, zeros.data());
            }
          });
        };
        if (sum) rows_of(BoolTag<true>());
        else rows_of(BoolTag<false>());
      };
      switch (code) {
        case kStraightThrough: with(IntTag<kStraightThrough>()); break;
        case kFastSigmoid: with(IntTag<kFastSigmoid>()); break;
        case kATan: with(IntTag<kATan>()); break;
        case kSigmoid: with(IntTag<kSigmoid>()); break;
        case kTriangular: with(IntTag<kTriangular>()); break;
        case kSpikeRateEscape: with(IntTag<kSpikeRateEscape>()); break;
        default: with(IntTag<kNoGradient>());
      }
    };
    dispatch(reset, delayed, run);
  }

 private:
  int reset_;
  bool delayed_;
  int surrogate_, steps_;
  float p_, q_, amplitude_, gain_;
};

}  // namespace keras_spiking

using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("KerasSpikingThresholdScan")
    .Input("x: float")
    .Input("v0: float")
    .Input("decay: float")
    .Input("threshold: float")
    .Attr("reset: {'subtract', 'zero', 'none'}")
    .Attr("delayed: bool")
    .Attr("spiking: bool = true")
    .Attr("gain: float = 1.0")
    .Attr("amplitude: float = 1.0")
    .Attr("voltage: bool = true")
    .Attr("steps: int = 0")
    .Output("spikes: float")
    .Output("u: float")
    .Output("v_last: float")
    .SetShapeFn([](InferenceContext* c) {
      bool spiking = true, voltage = true;
      int steps = 0;
      TF_RETURN_IF_ERROR(c->GetAttr("spiking", &spiking));
      TF_RETURN_IF_ERROR(c->GetAttr("voltage", &voltage));
      TF_RETURN_IF_ERROR(c->GetAttr("steps", &steps));
      auto out = c->input(0);  // (batch, time, units); a static x (batch, units) gets steps
      if (steps > 0)
        out = c->MakeShape({c->Dim(c->input(0), 0), c->MakeDim(steps), c->Dim(c->input(0), 1)});
      c->set_output(0, spiking ? out : c->Vector(0));
      c->set_output(1, voltage || !spiking ? out : c->Vector(0));
      c->set_output(2, c->input(1));
      return tensorflow::OkStatus();
    });

REGISTER_OP("KerasSpikingThresholdScanGrad")
    .Input("ds: float")
    .Input("du: float")
    .Input("dv_last: float")
    .Input("u: float")
    .Input("v0: float")
    .Input("decay: float")
    .Input("threshold: float")
    .Attr("reset: {'subtract', 'zero', 'none'}")
    .Attr("delayed: bool")
    .Attr("surrogate: int")
    .Attr("p: float")
    .Attr("q: float")
    .Attr("gain: float = 1.0")
    .Attr("amplitude: float = 1.0")
    .Attr("steps: int = 0")
    .Output("dx: float")
    .Output("dv0: float")
    .Output("ddecay: float")
    .Output("dthreshold: float")
    .SetShapeFn([](InferenceContext* c) {
      int steps = 0;
      TF_RETURN_IF_ERROR(c->GetAttr("steps", &steps));
      c->set_output(0, steps > 0 ? c->input(4) : c->input(3));
      c->set_output(1, c->input(4));
      c->set_output(2, c->input(4));
      c->set_output(3, c->input(4));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(
    Name("KerasSpikingThresholdScan").Device(tensorflow::DEVICE_CPU),
    keras_spiking::ThresholdScanOp);
REGISTER_KERNEL_BUILDER(
    Name("KerasSpikingThresholdScanGrad").Device(tensorflow::DEVICE_CPU),
    keras_spiking::ThresholdScanGradOp);
