// The event-driven 2-D convolution's gradients (event_conv.h) as two XLA FFI
// handlers, for the JAX backend on CPU: the filter gradient, and the input
// gradient with the bias gradient. keras_spiking/kernels/event_conv.py registers
// them with jax.ffi and picks them or XLA's dense convolution by the measured
// density of each batch, as on TensorFlow. The forward pass stays XLA's (see
// event_conv.py). Strides are attributes; "same" is 1 for TensorFlow's SAME
// padding and 0 for VALID.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "event_conv.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace keras_spiking {

// the passes' ``parallel`` on XLA's intra-op thread pool: the units in ``chunks``
// ranges, taken one at a time from a shared counter by this thread and by the
// pool's tasks. This thread waits only for ranges already taken, which threads
// are computing, so it cannot wait on a task the pool has not started (no
// deadlock when every pool thread is busy); a task that starts late finds no
// range left and returns. XLA's pool, not threads of our own, so that the kernel
// and XLA's other work share the same threads instead of oversubscribing the cores
// (a one-off probe of the CSNN's inference measured the two the same, 60-65 ms).
struct Pool {
  ffi::ThreadPool* pool;

  struct Shared {
    std::atomic<int64_t> next{0}, done{0};
    int64_t chunks = 0, units = 0;
    Work work;
    std::mutex mutex;
    std::condition_variable finished;
  };

  static void take(Shared& s) {
    for (int64_t i; (i = s.next.fetch_add(1)) < s.chunks;) {
      s.work(i * s.units / s.chunks, (i + 1) * s.units / s.chunks);
      if (s.done.fetch_add(1) + 1 == s.chunks) {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.finished.notify_all();
      }
    }
  }

  void operator()(int64_t units, int64_t /*cost_per_unit*/, const Work& work) const {
    const int64_t threads = this->threads();
    const int64_t chunks = std::min<int64_t>(units, 4 * threads);
    if (chunks <= 1) {
      if (units > 0) work(0, units);
      return;
    }
    auto s = std::make_shared<Shared>();
    s->chunks = chunks;
    s->units = units;
    s->work = work;
    for (int64_t t = 1; t < std::min(threads, chunks); ++t) pool->Schedule([s] { take(*s); });
    take(*s);
    std::unique_lock<std::mutex> lock(s->mutex);
    s->finished.wait(lock, [&] { return s->done.load() == s->chunks; });
  }

  int64_t threads() const { return std::max<int64_t>(1, pool->num_threads()); }
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

ffi::Error FilterGrad(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dout, ffi::ResultBuffer<ffi::F32> dw,
                      int64_t stride_rows, int64_t stride_cols, int64_t same, ffi::ThreadPool pool) {
  Geometry g;
  if (auto e = geometry("event_conv2d_filter_grad", x.dimensions(), dw->dimensions(), stride_rows, stride_cols,
                        same, &g); e.failure())
    return e;
  if (auto e = check_out("event_conv2d_filter_grad", dout.dimensions(), g); e.failure()) return e;
  const Pool parallel{&pool};
  filter_grad(g, x.typed_data(), dout.typed_data(), dw->typed_data(), blocks(g.batch, parallel.threads()), parallel);
  return ffi::Error::Success();
}

ffi::Error InputGrad(ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> dout, ffi::ResultBuffer<ffi::F32> dx,
                     ffi::ResultBuffer<ffi::F32> db, int64_t stride_rows, int64_t stride_cols, int64_t same,
                     ffi::ThreadPool pool) {
  Geometry g;
  if (auto e = geometry("event_conv2d_input_grad", dx->dimensions(), w.dimensions(), stride_rows, stride_cols,
                        same, &g); e.failure())
    return e;
  if (auto e = check_out("event_conv2d_input_grad", dout.dimensions(), g); e.failure()) return e;
  if (static_cast<int64_t>(db->element_count()) != g.outputs)
    return ffi::Error::InvalidArgument("event_conv2d_input_grad: the bias gradient must have " +
                                       std::to_string(g.outputs) + " values");
  const Pool parallel{&pool};
  input_grad(g, w.typed_data(), dout.typed_data(), dx->typed_data(), db->typed_data(),
             blocks(g.batch, parallel.threads()), parallel);
  return ffi::Error::Success();
}

}  // namespace keras_spiking

XLA_FFI_DEFINE_HANDLER_SYMBOL(KerasSpikingEventConv2DFilterGrad, keras_spiking::FilterGrad,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("stride_rows")
                                  .Attr<int64_t>("stride_cols")
                                  .Attr<int64_t>("same")
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(KerasSpikingEventConv2DInputGrad, keras_spiking::InputGrad,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("stride_rows")
                                  .Attr<int64_t>("stride_cols")
                                  .Attr<int64_t>("same")
                                  .Ctx<ffi::ThreadPool>());
