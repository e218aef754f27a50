// The event-driven 2-D convolution (event_conv.h) as three XLA FFI handlers, for
// the JAX backend on CPU: the forward pass, the filter gradient and the input
// gradient with the bias gradient. keras_spiking/kernels/event_conv.py registers
// them with jax.ffi and picks them or XLA's dense convolution by the measured
// density of each batch, as on TensorFlow. Strides are attributes; "same" is 1 for
// TensorFlow's SAME padding and 0 for VALID.

#include <sched.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "event_conv.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace keras_spiking {

// the CPUs this process may run on
inline int64_t cpu_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// the passes' ``parallel``: the units split evenly over up to ``count`` threads,
// this one included (threads of its own, so that waiting for them can never hold
// up one of XLA's)
struct Threads {
  int64_t count;
  void operator()(int64_t units, int64_t /*cost_per_unit*/, const Work& work) const {
    const int64_t n = std::min(units, count);
    if (n <= 1) {
      if (units > 0) work(0, units);
      return;
    }
    std::vector<std::thread> others;
    for (int64_t i = 1; i < n; ++i) others.emplace_back(work, i * units / n, (i + 1) * units / n);
    work(0, units / n);
    for (auto& t : others) t.join();
  }
};

template <class Dims>
std::string shape(const Dims& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + ")";
}

// the geometry of x (batch, rows, cols, channels) and filter (rows, cols, channels, outputs)
template <class X, class W>
ffi::Error geometry(const char* op, const X& x, const W& w, int64_t stride_rows, int64_t stride_cols,
                    int64_t same, Geometry* g) {
  if (x.size() != 4)
    return ffi::Error::InvalidArgument(std::string(op) + ": input must be (batch, rows, cols, channels), got " + shape(x));
  if (w.size() != 4 || w[2] != x[3])
    return ffi::Error::InvalidArgument(std::string(op) + ": filter must be (rows, cols, " + std::to_string(x[3]) +
                                       ", outputs), got " + shape(w));
  if (stride_rows < 1 || stride_cols < 1)
    return ffi::Error::InvalidArgument(std::string(op) + ": strides must be positive");
  g->batch = x[0];
  g->channels = x[3];
  g->outputs = w[3];
  g->rows = axis(x[1], w[0], stride_rows, same != 0);
  g->cols = axis(x[2], w[1], stride_cols, same != 0);
  return ffi::Error::Success();
}

template <class D>
ffi::Error check_out(const char* op, const D& d, const Geometry& g) {
  if (d.size() == 4 && d[0] == g.batch && d[1] == g.rows.out && d[2] == g.cols.out && d[3] == g.outputs)
    return ffi::Error::Success();
  return ffi::Error::InvalidArgument(std::string(op) + ": output gradient has shape " + shape(d) + ", expected (" +
                                     std::to_string(g.batch) + ", " + std::to_string(g.rows.out) + ", " +
                                     std::to_string(g.cols.out) + ", " + std::to_string(g.outputs) + ")");
}

inline int64_t blocks(int64_t batch, int64_t threads) {
  return std::max<int64_t>(1, std::min<int64_t>(batch, threads));
}

ffi::Error Conv2D(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> b,
                  ffi::ResultBuffer<ffi::F32> out, int64_t stride_rows, int64_t stride_cols, int64_t same) {
  Geometry g;
  if (auto e = geometry("event_conv2d", x.dimensions(), w.dimensions(), stride_rows, stride_cols, same, &g); e.failure())
    return e;
  if (b.element_count() != 0 && static_cast<int64_t>(b.element_count()) != g.outputs)
    return ffi::Error::InvalidArgument("event_conv2d: bias must have 0 or " + std::to_string(g.outputs) + " values");
  if (auto e = check_out("event_conv2d", out->dimensions(), g); e.failure()) return e;
  conv2d(g, x.typed_data(), w.typed_data(), b.element_count() ? b.typed_data() : nullptr, out->typed_data(),
         Threads{cpu_threads()});
  return ffi::Error::Success();
}

ffi::Error FilterGrad(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dout, ffi::ResultBuffer<ffi::F32> dw,
                      int64_t stride_rows, int64_t stride_cols, int64_t same) {
  Geometry g;
  if (auto e = geometry("event_conv2d_filter_grad", x.dimensions(), dw->dimensions(), stride_rows, stride_cols,
                        same, &g); e.failure())
    return e;
  if (auto e = check_out("event_conv2d_filter_grad", dout.dimensions(), g); e.failure()) return e;
  const int64_t threads = cpu_threads();
  filter_grad(g, x.typed_data(), dout.typed_data(), dw->typed_data(), blocks(g.batch, threads), Threads{threads});
  return ffi::Error::Success();
}

ffi::Error InputGrad(ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> dout, ffi::ResultBuffer<ffi::F32> dx,
                     ffi::ResultBuffer<ffi::F32> db, int64_t stride_rows, int64_t stride_cols, int64_t same) {
  Geometry g;
  if (auto e = geometry("event_conv2d_input_grad", dx->dimensions(), w.dimensions(), stride_rows, stride_cols,
                        same, &g); e.failure())
    return e;
  if (auto e = check_out("event_conv2d_input_grad", dout.dimensions(), g); e.failure()) return e;
  if (static_cast<int64_t>(db->element_count()) != g.outputs)
    return ffi::Error::InvalidArgument("event_conv2d_input_grad: the bias gradient must have " +
                                       std::to_string(g.outputs) + " values");
  const int64_t threads = cpu_threads();
  input_grad(g, w.typed_data(), dout.typed_data(), dx->typed_data(), db->typed_data(), blocks(g.batch, threads),
             Threads{threads});
  return ffi::Error::Success();
}

}  // namespace keras_spiking

XLA_FFI_DEFINE_HANDLER_SYMBOL(KerasSpikingEventConv2D, keras_spiking::Conv2D,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("stride_rows")
                                  .Attr<int64_t>("stride_cols")
                                  .Attr<int64_t>("same"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(KerasSpikingEventConv2DFilterGrad, keras_spiking::FilterGrad,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("stride_rows")
                                  .Attr<int64_t>("stride_cols")
                                  .Attr<int64_t>("same"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(KerasSpikingEventConv2DInputGrad, keras_spiking::InputGrad,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("stride_rows")
                                  .Attr<int64_t>("stride_cols")
                                  .Attr<int64_t>("same"));
