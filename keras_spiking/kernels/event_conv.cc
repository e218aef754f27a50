// The event-driven 2-D convolution (event_conv.h) as three TensorFlow ops: the
// forward pass, the filter gradient and the input gradient (with the bias
// gradient). keras_spiking/kernels/event_conv.py picks them or TensorFlow's dense
// kernels by the measured density of each batch.

#include <functional>
#include <string>
#include <vector>

#include "event_conv.h"
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

inline tensorflow::Status geometry(OpKernel* op, const TensorShape& x, const TensorShape& filter,
                                   const std::vector<int32_t>& strides, bool same, Geometry* g) {
  if (x.dims() != 4)
    return tensorflow::errors::InvalidArgument(op->name(), ": input must be (batch, rows, cols, channels), got ",
                                               x.DebugString());
  if (filter.dims() != 4 || filter.dim_size(2) != x.dim_size(3))
    return tensorflow::errors::InvalidArgument(op->name(), ": filter must be (rows, cols, ",
                                               x.dim_size(3), ", outputs), got ", filter.DebugString());
  g->batch = x.dim_size(0);
  g->channels = x.dim_size(3);
  g->outputs = filter.dim_size(3);
  g->rows = axis(x.dim_size(1), filter.dim_size(0), strides[0], same);
  g->cols = axis(x.dim_size(2), filter.dim_size(1), strides[1], same);
  return tensorflow::OkStatus();
}

inline tensorflow::Status check_out_backprop(OpKernel* op, const Tensor& dout, const Geometry& g) {
  if (dout.dims() == 4 && dout.dim_size(0) == g.batch && dout.dim_size(1) == g.rows.out &&
      dout.dim_size(2) == g.cols.out && dout.dim_size(3) == g.outputs)
    return tensorflow::OkStatus();
  return tensorflow::errors::InvalidArgument(op->name(), ": out_backprop has shape ",
                                             dout.shape().DebugString(), ", expected (", g.batch,
                                             ", ", g.rows.out, ", ", g.cols.out, ", ", g.outputs, ")");
}

// a shape from a 4-vector of sizes (filter_sizes, input_sizes)
inline tensorflow::Status shape_from(OpKernel* op, const Tensor& sizes, const char* what,
                                     TensorShape* shape) {
  if (sizes.NumElements() != 4)
    return tensorflow::errors::InvalidArgument(op->name(), ": ", what, " must have 4 values");
  auto s = sizes.flat<int32_t>();
  return TensorShape::BuildTensorShape({s(0), s(1), s(2), s(3)}, shape);
}

// the passes' ``parallel``: TensorFlow's intra-op threads, split by cost
struct Sharder {
  OpKernelContext* ctx;
  void operator()(int64_t units, int64_t cost_per_unit, const Work& work) const {
    auto* threads = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(threads->num_threads, threads->workers, units, cost_per_unit, work);
  }
};

// the batch in a fixed number of blocks of consecutive samples (at most one per
// thread), so that per-block partial sums can be added in the same order on every run
inline int64_t sample_blocks(OpKernelContext* ctx, int64_t batch) {
  const int64_t threads = ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
  return std::max<int64_t>(1, std::min<int64_t>(batch, threads));
}

class ConvOpBase : public OpKernel {
 public:
  explicit ConvOpBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string padding;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("strides", &strides_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("padding", &padding));
    OP_REQUIRES(ctx, strides_.size() == 2 && strides_[0] > 0 && strides_[1] > 0,
                tensorflow::errors::InvalidArgument(name(), ": strides must be two positive integers"));
    same_ = padding == "SAME";
  }

 protected:
  std::vector<int32_t> strides_;
  bool same_ = false;
};

// out = event-driven conv(x, filter) + bias
class EventConv2DOp : public ConvOpBase {
 public:
  using ConvOpBase::ConvOpBase;

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& filter = ctx->input(1);
    const Tensor& bias = ctx->input(2);
    Geometry g;
    OP_REQUIRES_OK(ctx, geometry(this, x.shape(), filter.shape(), strides_, same_, &g));
    OP_REQUIRES(ctx, bias.NumElements() == 0 || bias.NumElements() == g.outputs,
                tensorflow::errors::InvalidArgument(name(), ": bias must have 0 or ", g.outputs,
                                                    " values, got ", bias.NumElements()));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            0, TensorShape({g.batch, g.rows.out, g.cols.out, g.outputs}), &out));
    conv2d(g, x.flat<float>().data(), filter.flat<float>().data(),
           bias.NumElements() ? bias.flat<float>().data() : nullptr, out->flat<float>().data(),
           Sharder{ctx});
  }
};

// dfilter = sum over the batch of x (nonzeros only) times dout
class EventConv2DFilterGradOp : public ConvOpBase {
 public:
  using ConvOpBase::ConvOpBase;

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& sizes = ctx->input(1);
    const Tensor& dout = ctx->input(2);
    TensorShape filter;
    OP_REQUIRES_OK(ctx, shape_from(this, sizes, "filter_sizes", &filter));
    Geometry g;
    OP_REQUIRES_OK(ctx, geometry(this, x.shape(), filter, strides_, same_, &g));
    OP_REQUIRES_OK(ctx, check_out_backprop(this, dout, g));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, filter, &out));
    filter_grad(g, x.flat<float>().data(), dout.flat<float>().data(), out->flat<float>().data(),
                sample_blocks(ctx, g.batch), Sharder{ctx});
  }
};

// dx = the transposed convolution of dout over its nonzeros, and dbias
class EventConv2DInputGradOp : public ConvOpBase {
 public:
  using ConvOpBase::ConvOpBase;

  void Compute(OpKernelContext* ctx) override {
    TensorShape input;
    OP_REQUIRES_OK(ctx, shape_from(this, ctx->input(0), "input_sizes", &input));
    const Tensor& filter = ctx->input(1);
    const Tensor& dout = ctx->input(2);
    Geometry g;
    OP_REQUIRES_OK(ctx, geometry(this, input, filter.shape(), strides_, same_, &g));
    OP_REQUIRES_OK(ctx, check_out_backprop(this, dout, g));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, input, &out));
    Tensor* bias_grad = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({g.outputs}), &bias_grad));
    input_grad(g, filter.flat<float>().data(), dout.flat<float>().data(), out->flat<float>().data(),
               bias_grad->flat<float>().data(), sample_blocks(ctx, g.batch), Sharder{ctx});
  }
};

}  // namespace keras_spiking

using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;

namespace {

tensorflow::Status output_dim(InferenceContext* c, DimensionHandle in, DimensionHandle kernel,
                              int stride, bool same, DimensionHandle* out) {
  if (!c->ValueKnown(in) || !c->ValueKnown(kernel)) {
    *out = c->UnknownDim();
    return tensorflow::OkStatus();
  }
  *out = c->MakeDim(keras_spiking::axis(c->Value(in), c->Value(kernel), stride, same).out);
  return tensorflow::OkStatus();
}

// a gradient's shape: the sizes given as its input ``i`` (filter_sizes, input_sizes)
template <int i>
tensorflow::Status shape_of_sizes(InferenceContext* c) {
  tensorflow::shape_inference::ShapeHandle out;
  TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(i, &out));
  c->set_output(0, out);
  return tensorflow::OkStatus();
}

}  // namespace

REGISTER_OP("KerasSpikingEventConv2D")
    .Input("x: float")
    .Input("filter: float")
    .Input("bias: float")
    .Attr("strides: list(int)")
    .Attr("padding: {'VALID', 'SAME'}")
    .Output("out: float")
    .SetShapeFn([](InferenceContext* c) {
      std::vector<int32_t> strides;
      std::string padding;
      TF_RETURN_IF_ERROR(c->GetAttr("strides", &strides));
      TF_RETURN_IF_ERROR(c->GetAttr("padding", &padding));
      if (strides.size() != 2) return tensorflow::errors::InvalidArgument("strides must have 2 values");
      tensorflow::shape_inference::ShapeHandle x, w;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &w));
      DimensionHandle rows, cols;
      TF_RETURN_IF_ERROR(output_dim(c, c->Dim(x, 1), c->Dim(w, 0), strides[0], padding == "SAME", &rows));
      TF_RETURN_IF_ERROR(output_dim(c, c->Dim(x, 2), c->Dim(w, 1), strides[1], padding == "SAME", &cols));
      c->set_output(0, c->MakeShape({c->Dim(x, 0), rows, cols, c->Dim(w, 3)}));
      return tensorflow::OkStatus();
    });

REGISTER_OP("KerasSpikingEventConv2DFilterGrad")
    .Input("x: float")
    .Input("filter_sizes: int32")
    .Input("out_backprop: float")
    .Attr("strides: list(int)")
    .Attr("padding: {'VALID', 'SAME'}")
    .Output("dfilter: float")
    .SetShapeFn(shape_of_sizes<1>);

REGISTER_OP("KerasSpikingEventConv2DInputGrad")
    .Input("input_sizes: int32")
    .Input("filter: float")
    .Input("out_backprop: float")
    .Attr("strides: list(int)")
    .Attr("padding: {'VALID', 'SAME'}")
    .Output("dx: float")
    .Output("dbias: float")
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(shape_of_sizes<0>(c));
      tensorflow::shape_inference::ShapeHandle w;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &w));
      c->set_output(1, c->Vector(c->Dim(w, 3)));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("KerasSpikingEventConv2D").Device(tensorflow::DEVICE_CPU),
                        keras_spiking::EventConv2DOp);
REGISTER_KERNEL_BUILDER(Name("KerasSpikingEventConv2DFilterGrad").Device(tensorflow::DEVICE_CPU),
                        keras_spiking::EventConv2DFilterGradOp);
REGISTER_KERNEL_BUILDER(Name("KerasSpikingEventConv2DInputGrad").Device(tensorflow::DEVICE_CPU),
                        keras_spiking::EventConv2DInputGradOp);
