"""Plain-numpy references for the convolution kernels' tests (both backends)."""

import numpy as np

#: (input shape, kernel size, filters, strides, padding)
GEOMETRIES = [
    ((3, 12, 12, 12), (5, 5), 64, (1, 1), "valid"),  # the CSNN's second convolution
    ((2, 9, 11, 3), (3, 3), 5, (2, 2), "same"),
    ((2, 10, 7, 17), (2, 3), 70, (2, 1), "valid"),
    ((2, 8, 8, 20), (3, 3), 16, (1, 1), "same"),
    ((1, 5, 6, 1), (4, 2), 1, (3, 2), "same"),
    ((2, 9, 10, 5), (3, 7), 32, (1, 1), "same"),  # 7 kernel columns: the per-event filter visit
    ((2, 6, 5, 7), (2, 1), 64, (1, 1), "valid"),  # register-held filter gradient, 1 column
    ((2, 7, 7, 3), (3, 4), 48, (1, 1), "same"),  # ... 4 columns, 48 outputs (16 at a time)
]



def _padding(size, kernel, stride, padding):
    """(output size, padding before) as TensorFlow computes them."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + kernel - size, 0) // 2


def numpy_conv(x, w, b, strides, padding):
    """out[n, oy, ox, o] = b[o] + sum x[n, oy*s + ky - p, ox*s + kx - p, c] w[ky, kx, c, o]."""
    (rows, pad_r), (cols, pad_c) = (_padding(x.shape[i + 1], w.shape[i], strides[i], padding)
                                    for i in range(2))
    out = np.zeros((x.shape[0], rows, cols, w.shape[3])) + b
    for oy in range(rows):
        for ox in range(cols):
            for ky in range(w.shape[0]):
                for kx in range(w.shape[1]):
                    y, xx = oy * strides[0] + ky - pad_r, ox * strides[1] + kx - pad_c
                    if 0 <= y < x.shape[1] and 0 <= xx < x.shape[2]:
                        out[:, oy, ox] += x[:, y, xx] @ w[ky, kx]
    return out


def numpy_filter_grad(x, dout, kernel_size, strides, padding):
    """dw[ky, kx, c, o] = sum over n, oy, ox of x[n, y, x, c] dout[n, oy, ox, o]."""
    kh, kw = kernel_size
    pad_r = _padding(x.shape[1], kh, strides[0], padding)[1]
    pad_c = _padding(x.shape[2], kw, strides[1], padding)[1]
    dw = np.zeros((kh, kw, x.shape[3], dout.shape[3]))
    for oy in range(dout.shape[1]):
        for ox in range(dout.shape[2]):
            for ky in range(kh):
                for kx in range(kw):
                    y, xx = oy * strides[0] + ky - pad_r, ox * strides[1] + kx - pad_c
                    if 0 <= y < x.shape[1] and 0 <= xx < x.shape[2]:
                        dw[ky, kx] += x[:, y, xx].T @ dout[:, oy, ox]
    return dw


def numpy_input_grad(x_shape, w, dout, strides, padding):
    """dx[n, y, x, c] = sum over the taps reaching (y, x) of dout[n, oy, ox] . w[ky, kx, c]."""
    kh, kw = w.shape[:2]
    pad_r = _padding(x_shape[1], kh, strides[0], padding)[1]
    pad_c = _padding(x_shape[2], kw, strides[1], padding)[1]
    dx = np.zeros(x_shape)
    for oy in range(dout.shape[1]):
        for ox in range(dout.shape[2]):
            for ky in range(kh):
                for kx in range(kw):
                    y, xx = oy * strides[0] + ky - pad_r, ox * strides[1] + kx - pad_c
                    if 0 <= y < x_shape[1] and 0 <= xx < x_shape[2]:
                        dx[:, y, xx] += dout[:, oy, ox] @ w[ky, kx].T
    return dx


def sparse_values(rng, shape, density):
    """Values of both signs, zero with probability ``1 - density``."""
    return ((rng.random(shape) < density) * rng.normal(0, 1, shape)).astype("float32")


def close(actual, expected):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-6 * scale)
