"""keras_spiking.converters: from trained Keras models to spiking ones, and out.

This folder is installed as ``keras_spiking.converters`` (see setup.cfg):
the converter (a graph walk over a registry of per-layer rules: base.py holds
the rule machinery, rules.py the built-in rules, convert.py the converter),
data-based firing-rate normalisation (normalize.py), evaluation over
timesteps (evaluate.py, report.py), NIR export and import (the nir/ package:
layout, export and import rules, graph surgery, files) and weight
quantisation for fixed-point hardware (quantize.py).
"""

from .base import ConversionError, Rule, register
from .convert import Converter, convert, tile_time, verify
from .evaluate import (
    compiled_forward,
    evaluate_timesteps,
    firing_rates,
    plot_evaluation,
    run_chunked,
    with_timesteps,
)
from .report import convert_and_report
from .nir import export_nir, import_nir  # nir itself is imported on first use
from .quantize import quantize_weights
