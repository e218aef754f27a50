"""Figures of one sample's activity: spike raster, membrane traces, spike counts.

Needs matplotlib (``pip install matplotlib``, or the ``plot`` extra); it is
imported only when a function here is called. Every function takes the
activity of ONE sample, shaped ``(time, neurons...)`` (everything after the
time axis is flattened into a neuron index; take ``output[i]`` of a batch),
accepts numpy arrays or tensors, draws into ``ax`` if given (else a new
figure), and returns the ``matplotlib.figure.Figure``. Time is shown in steps,
or in seconds when ``dt`` (the step length in seconds) is given.

    spikes = model.predict(x[:1])[0]          # (time, classes)
    keras_spiking.plotting.spike_raster(spikes)
"""

import numpy as np

from keras_spiking.optional import require


def _pyplot():
    return require("matplotlib.pyplot", "keras_spiking.plotting", "plot")


def _one_sample(owner, values):
    array = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
    if array.ndim < 2:
        raise ValueError(
            f"{owner}: expected one sample's activity shaped (time, neurons...), got "
            f"shape {array.shape}."
        )
    return array.reshape(array.shape[0], -1)


def _axes(ax, figsize=(6, 3.5)):
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=figsize)
    return ax.figure, ax


def _times(steps, dt):
    t = np.arange(steps, dtype="float64")
    return (t, "time step") if dt is None else (t * dt, "time (s)")


def spike_raster(spikes, *, dt=None, ax=None, title="Spike raster", marker_size=4.0):
    """Raster plot: a dot at (time, neuron) for every spike.

    Args:
        spikes: one sample's spikes, ``(time, neurons...)``; nonzero is a spike.
        dt: step length in seconds (None: time in steps).
        ax: matplotlib axes to draw into.
    """
    s = _one_sample("spike_raster", spikes)
    fig, ax = _axes(ax)
    t, label = _times(s.shape[0], dt)
    steps, neurons = np.nonzero(s)
    ax.scatter(t[steps], neurons, s=marker_size, c="k", marker="|" if s.shape[1] > 1 else "o")
    ax.set_xlim(t[0] - 0.5 * (t[1] - t[0] if len(t) > 1 else 1), t[-1] + 0.5 * (t[1] - t[0] if len(t) > 1 else 1))
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel(label)
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title)
    return fig


def membrane_traces(voltages, *, neurons=None, threshold=None, dt=None, ax=None,
                    title="Membrane voltage"):
    """Membrane voltage over time, one line per neuron.

    Args:
        voltages: one sample's voltages, ``(time, neurons...)``.
        neurons: indices (into the flattened neurons) to draw; default the
            first 10.
        threshold: draw the firing threshold as a dashed line.
        dt: step length in seconds (None: time in steps).
        ax: matplotlib axes to draw into.
    """
    v = _one_sample("membrane_traces", voltages)
    if neurons is None:
        neurons = range(min(10, v.shape[1]))
    neurons = list(neurons)
    bad = [n for n in neurons if not 0 <= n < v.shape[1]]
    if bad:
        raise ValueError(
            f"membrane_traces: neurons must be indices in [0, {v.shape[1]}), got {bad}."
        )
    fig, ax = _axes(ax)
    t, label = _times(v.shape[0], dt)
    for n in neurons:
        ax.plot(t, v[:, n], label=f"neuron {n}")
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle="--", linewidth=1, label="threshold")
    ax.set_xlabel(label)
    ax.set_ylabel("membrane voltage")
    if len(neurons) <= 10:
        ax.legend(fontsize="small", loc="best")
    if title:
        ax.set_title(title)
    return fig


def spike_counts(spikes, *, labels=None, target=None, ax=None, title="Spike counts"):
    """Bars of each output neuron's spike count; the most active one (the
    prediction) in a strong colour, the target class (if given) outlined.

    Args:
        spikes: one sample's output spikes, ``(time, classes)``.
        labels: class names for the x axis.
        target: index of the true class.
        ax: matplotlib axes to draw into.
    """
    counts = _one_sample("spike_counts", spikes).sum(axis=0)
    if labels is not None and len(labels) != len(counts):
        raise ValueError(
            f"spike_counts: got {len(labels)} labels for {len(counts)} output neurons."
        )
    fig, ax = _axes(ax)
    colours = ["tab:gray"] * len(counts)
    colours[int(np.argmax(counts))] = "tab:blue"
    bars = ax.bar(np.arange(len(counts)), counts, color=colours)
    if target is not None:
        bars[int(target)].set_edgecolor("tab:red")
        bars[int(target)].set_linewidth(2.5)
    ax.set_xticks(np.arange(len(counts)))
    if labels is not None:
        ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_xlabel("output neuron")
    ax.set_ylabel("spikes")
    if title:
        ax.set_title(title)
    return fig
