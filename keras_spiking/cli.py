"""The ``keras-spiking`` command.

    keras-spiking demo [--epochs 5] [--quick]          the Fashion-MNIST main job
    keras-spiking convert MODEL.keras --calibration fashion_mnist|X.npy --timesteps 32 -o SNN.keras
    keras-spiking evaluate SNN.keras --data fashion_mnist|XY.npz --timesteps 8,16,32
                  [--plot acc.png] [--ann MODEL.keras]
    keras-spiking profiles                             the hardware profiles
    keras-spiking check MODEL.keras --profile NAME     does the model fit the chip?
    keras-spiking quantize MODEL.keras --profile NAME -o OUT.keras
    keras-spiking export MODEL.keras -o OUT.nir [--dt SECONDS] [--for-tool nir|snntorch|norse]
    keras-spiking energy MODEL.keras [--device loihi --data X.npy] [--timesteps T]

Every verb has ``--help``; an error prints one line ``keras-spiking: error:
...`` and exits with a non-zero code (2 for bad arguments, 1 otherwise);
``check`` exits with 1 when the model does not fit. Files are written
atomically (a temporary file in the same folder, then ``os.replace``): a
failed run never leaves a half-written file or clobbers an existing one.
Data: ``fashion_mnist`` (``keras_spiking.datasets``: training images to
calibrate, test images and labels to evaluate), a ``.npy`` of inputs or a
``.npz`` holding ``x`` (and ``y``, integer labels, to evaluate).
"""

import argparse
import os
import sys
import tempfile


class CommandError(Exception):
    """An error reported as one line, exit code 1."""


def _model_path(path):
    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    if not path.endswith(".keras"):
        raise CommandError(f"{path}: expected a .keras model file")
    return path


def _load(path):
    _model_path(path)
    import keras

    import keras_spiking  # noqa: F401  (registers the package's layers)

    try:
        return keras.saving.load_model(path)
    except Exception as error:  # a file that is not a model, or a broken one
        reason = str(error).strip().splitlines()
        raise CommandError(f"{path}: not a readable Keras model "
                           f"({reason[0] if reason else type(error).__name__})") from None


def _output(path, suffix, source=None):
    if not path.endswith(suffix):
        raise CommandError(f"{path}: the output must end with {suffix}")
    if source is not None and os.path.abspath(path) == os.path.abspath(source):
        raise CommandError(f"{path}: refusing to overwrite the input model")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: no such folder {folder}")
    return path


def _write_atomic(path, write):
    """``write(tmp)`` to a temporary file beside ``path``, then rename it into
    place; on any failure the temporary file is removed and ``path`` untouched."""
    suffix = os.path.splitext(path)[1]
    handle, tmp = tempfile.mkstemp(suffix=suffix, dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _array_file(path, labelled):
    """``(x, y)`` from a ``.npy`` (inputs, ``y`` None) or a ``.npz`` (``x``, ``y``)."""
    import numpy as np

    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                missing = [k for k in ("x", "y")[:1 + labelled] if k not in data.files]
                if missing:
                    raise CommandError(f"{path}: a .npz must hold arrays x and y (inputs "
                                       f"and integer labels); it has {data.files}")
                return data["x"], data["y"] if labelled else None
    except CommandError:
        raise
    except (OSError, ValueError) as error:
        raise CommandError(f"{path}: not a .npy or .npz array file "
                           f"({_first_line(error)})") from None
    if labelled:
        raise CommandError(f"{path}: labelled data must be a .npz holding x and y, "
                           "got a .npy of inputs only")
    return data, None


def _data(spec, labelled):
    """Inputs (and labels) named on the command line: ``fashion_mnist`` (the
    training images to calibrate, the test set to evaluate) or a file."""
    if spec == "fashion_mnist":
        from keras_spiking.datasets import load_fashion_mnist

        try:
            return load_fashion_mnist("test" if labelled else "train", as_numpy=True)
        except (OSError, ValueError, RuntimeError) as error:
            raise CommandError(f"fashion_mnist: {_first_line(error)}") from None
    if not spec.endswith((".npy", ".npz")):
        raise CommandError(f"unknown dataset {spec!r}: give fashion_mnist, a .npy of "
                           "inputs or a .npz holding x" + (" and y" if labelled else ""))
    return _array_file(spec, labelled)


def _inputs_for(model, x, spec, static=True):
    """``x`` checked against ``model``'s input shape (without the time axis
    unless ``static``): float32, finite, at least one sample."""
    from keras_spiking.validation import check_model_data

    shape = tuple(model.inputs[0].shape[1 if static else 2:])
    try:
        return check_model_data(spec, "the inputs", x, [shape])[0]
    except (ValueError, TypeError) as error:
        raise CommandError(_first_line(error)) from None


def _labels(y, x, spec):
    import numpy as np

    y = np.asarray(y)
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.isfinite(y))
                                          and np.all(y == np.round(y))):
        raise CommandError(f"{spec}: y must hold integer class labels, got dtype {y.dtype}")
    y = y.reshape(-1).astype("int64")
    if len(y) != len(x):
        raise CommandError(f"{spec}: {len(x)} inputs but {len(y)} labels")
    return y


def _timesteps(text):
    try:
        steps = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas (e.g. 8,16,32), got {text!r}") from None
    if not steps or steps[0] < 1:
        raise argparse.ArgumentTypeError(f"timesteps must be integers >= 1, got {text!r}")
    return steps


def _synapse(text):
    if text.lower() in ("none", "auto"):
        return None if text.lower() == "none" else "auto"
    try:
        tau = float(text)
    except ValueError:
        tau = -1.0
    if not tau > 0 or tau == float("inf"):
        raise argparse.ArgumentTypeError(f"a time constant in seconds > 0, 'auto' or 'none', got {text!r}")
    return tau


def _profile(name):
    from keras_spiking.hardware import get_profile

    try:
        return get_profile(name)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _profiles(args):
    from keras_spiking.hardware import get_profile, profiles

    for name in profiles():
        print(f"{name:<14} {get_profile(name).description}")
    return 0


def _check(args):
    from keras_spiking.hardware import check, format_violations

    profile = _profile(args.profile)
    model = _load(args.model)
    found = check(model, profile)
    print(format_violations(found, profile.name))
    return 1 if found else 0


def _quantize(args):
    from keras_spiking.hardware import quantize

    profile = _profile(args.profile)
    out = _output(args.output, ".keras", args.model)
    model = _load(args.model)
    quantized, report = quantize(model, profile, per_channel=args.per_channel or None)
    _write_atomic(out, quantized.save)
    print(report)
    print(f"wrote {out}")
    return 0


def _convert(args):
    import keras

    from keras_spiking.converters import ConversionError, convert, verify

    out = _output(args.output, ".keras", args.model)
    if args.static_input and args.timesteps is None:
        raise CommandError("--static-input needs --timesteps T (the steps the input "
                           "is repeated for); or pass --no-static-input")
    model = _load(args.model)
    x, _ = _data(args.calibration, labelled=False)
    x = _inputs_for(model, x[:args.calibration_size], args.calibration)
    options = dict(calibration_data=x, timesteps=args.timesteps,
                   static_input=args.static_input, synapse=args.synapse, dt=args.dt,
                   percentile=args.percentile, channel_norm=args.channel_norm,
                   closed_form=args.closed_form, spikes=args.spikes, max_pool=args.max_pool, readout=args.readout)
    bar = keras.utils.Progbar(3)  # calibrate and convert, verify, save
    try:
        snn = convert(model, **options)
        bar.update(1)
        max_error = verify(model, x[:200], atol=1e-4, **options) if args.verify else None
        bar.update(2)
    except (ConversionError, ValueError, TypeError) as error:
        print()
        raise CommandError(_first_line(error)) from None
    _write_atomic(out, snn.save)
    bar.update(3)
    steps = "any number of" if args.timesteps is None else args.timesteps
    print(f"converted {model.name} ({len(x)} calibration inputs from {args.calibration}) "
          f"to a spiking model of {steps} steps"
          + ("" if max_error is None else f"; rate-mode verify: max error {max_error:.1e}"))
    print(f"wrote {out}")
    return 0


def _accuracy_of_ann(path, x, y, spec):
    import numpy as np

    ann = _load(path)
    x = _inputs_for(ann, x, spec)
    scores = ann.predict(x, batch_size=500, verbose=1)
    scores = np.asarray(scores[0] if isinstance(scores, (list, tuple)) else scores)
    if scores.ndim != 2:
        raise CommandError(f"{path}: --ann must be a classifier with outputs "
                           f"(batch, classes), got {scores.shape}")
    return ann, float(np.mean(scores.argmax(-1) == y))


def _evaluate(args):
    from keras_spiking.converters import evaluate_timesteps, plot_evaluation, with_timesteps
    from keras_spiking.converters.evaluate import model_timesteps

    if args.plot is not None:
        _output(args.plot, ".png", args.model)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CommandError("--plot needs matplotlib (pip install "
                               "'keras_spiking[plot]')") from None
    snn = _load(args.model)
    shape = tuple(snn.outputs[0].shape)
    if len(shape) != 3:
        raise CommandError(f"{args.model}: not a spiking classifier with outputs (batch, time, "
                           f"classes), got {shape}; convert it first (keras-spiking convert)")
    x, y = _data(args.data, labelled=True)
    if args.size is not None:
        x, y = x[:args.size], y[:args.size]
    static, fixed = model_timesteps(snn)
    x = _inputs_for(snn, x, args.data, static=static)
    y = _labels(y, x, args.data)
    ann_accuracy = None
    if args.ann is not None:
        _, ann_accuracy = _accuracy_of_ann(args.ann, x, y, args.data)
    T_max = args.timesteps[-1]
    if fixed is not None and T_max != fixed:
        print(f"{args.model} was saved for {fixed} steps; running it for {T_max} "
              "(the same weights, its step count changed)")
        snn = with_timesteps(snn, T_max)
    try:
        evaluation = evaluate_timesteps(snn, (x, y), args.timesteps,
                                        batch_size=args.batch_size, verbose=1)
    except (ValueError, TypeError) as error:
        raise CommandError(_first_line(error)) from None
    print(f"\n{snn.name} on {len(y)} inputs from {args.data}"
          + ("" if ann_accuracy is None else f"; ANN {args.ann}: {ann_accuracy:.2%}"))
    print(evaluation.table())
    if args.plot is not None:
        _write_atomic(args.plot, lambda tmp: plot_evaluation(
            evaluation, path=tmp, ann_accuracy=ann_accuracy))
        print(f"wrote {args.plot}")
    return 0


def _export(args):
    from keras_spiking.converters import export_nir

    out = _output(args.output, ".nir", args.model)
    options = dict(dt=args.dt, approximate=tuple(args.approximate),
                   for_tool=args.for_tool or "nir")
    model = _load(args.model)
    try:
        export_nir(model, out, **options)
    except (ValueError, TypeError) as error:
        raise CommandError(_first_line(error)) from None
    print(f"wrote {out}")
    return 0


def _energy(args):
    from keras_spiking.energy import ModelEnergy

    model = _load(args.model)
    data = None
    if args.data is not None:
        import numpy as np

        if not os.path.isfile(args.data):
            raise CommandError(f"no such file: {args.data}")
        try:
            data = np.load(args.data)
            data = data["x"] if isinstance(data, np.lib.npyio.NpzFile) else data
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"{args.data}: not a .npy of inputs or a .npz holding x "
                               f"({error})") from None
    try:
        energy = ModelEnergy(model, data)
        if args.device:
            joules = energy.total_energy(args.device, args.timesteps)
            print(f"{args.device}: {joules:.4g} J per inference of {args.timesteps} steps")
        else:
            energy.summary(timesteps_per_inference=args.timesteps)
    except (ValueError, TypeError, KeyError) as error:
        raise CommandError(str(error).strip().splitlines()[0]) from None
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    parser = _Parser(
        prog="keras-spiking", description="Spiking neural networks in Keras 3.")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = verbs.add_parser("demo", add_help=False,
                            help="train an all-LIF CNN on Fashion-MNIST (the main job)")
    demo.set_defaults(run=None)
    convert = verbs.add_parser(
        "convert", help="convert a trained Keras model (ReLU, SoftLIF, ...) to spikes",
        description="Convert a trained model to a spiking one (keras_spiking.converters."
                    "convert): firing rates normalised from calibration inputs, a rate-mode "
                    "check, written atomically.")
    convert.add_argument("model", help="a trained .keras model")
    convert.add_argument("--calibration", required=True,
                         help="fashion_mnist (its training images) or a .npy of inputs "
                              "shaped like the model's input")
    convert.add_argument("--calibration-size", type=int, default=1000,
                         help="inputs used to normalise the firing rates (default 1000)")
    convert.add_argument("--timesteps", type=int, default=None,
                         help="steps of the spiking model (needed with --static-input)")
    convert.add_argument("-o", "--output", required=True,
                         help="the spiking .keras file (never the input)")
    convert.add_argument("--static-input", action=argparse.BooleanOptionalAction,
                         default=True,
                         help="take (batch, *input_shape) and repeat it over the steps "
                              "(default); --no-static-input: inputs (batch, T, ...)")
    convert.add_argument("--synapse", type=_synapse, default="auto",
                         help="lowpass time constant after each spiking layer, seconds, "
                              "'none', or 'auto' (convert's default: none before the "
                              "running-mean readout for IF neurons, 5 ms for LIF)")
    convert.add_argument("--dt", type=float, default=0.001, help="step, seconds (0.001)")
    convert.add_argument("--percentile", type=float, default=99.9,
                         help="rate percentile that fires once per step (99.9)")
    convert.add_argument("--no-channel-norm", dest="channel_norm", action="store_false",
                         help="one rate scale per layer, not per channel of a feature map")
    convert.add_argument("--no-closed-form", dest="closed_form", action="store_false",
                         help="with --static-input, step the first IF layer in the time "
                              "loop instead of computing its spikes in closed form")
    convert.add_argument("--spikes", choices=("binary", "graded"), default="binary")
    convert.add_argument("--max-pool", choices=("error", "avg", "max", "spike"),
                         default="error", help="how max pooling is converted")
    convert.add_argument("--readout", choices=("mean", "last"), default="mean",
                         help="running-mean readout (default) or the raw output")
    convert.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                         help="check the rate-mode conversion against the model (default)")
    convert.set_defaults(run=_convert)
    evaluate = verbs.add_parser(
        "evaluate", help="accuracy of a spiking model against the number of timesteps",
        description="Accuracy of a converted spiking model after each T (one run of the "
                    "longest). A model saved for one T runs any other T: its step count "
                    "(RepeatTime, or the input's time axis) is changed, the weights kept.")
    evaluate.add_argument("model", help="a spiking .keras model (keras-spiking convert)")
    evaluate.add_argument("--data", required=True,
                          help="fashion_mnist (its test set) or a .npz holding x and y")
    evaluate.add_argument("--timesteps", type=_timesteps, default=[8, 16, 32],
                          help="comma-separated T (default 8,16,32)")
    evaluate.add_argument("--size", type=int, default=None,
                          help="use the first N samples only")
    evaluate.add_argument("--batch-size", type=int, default=100)
    evaluate.add_argument("--ann", default=None,
                          help="the .keras model it was converted from: its accuracy is "
                               "printed and drawn as a line")
    evaluate.add_argument("--plot", default=None, help="write accuracy against T to this .png")
    evaluate.set_defaults(run=_evaluate)
    verbs.add_parser("profiles", help="list the hardware profiles").set_defaults(run=_profiles)
    check = verbs.add_parser("check", help="check a model against a hardware profile "
                                           "(exit code 1 if it does not fit)")
    check.add_argument("model", help="a .keras model file")
    check.add_argument("--profile", required=True, help="a profile name (see 'profiles')")
    check.set_defaults(run=_check)
    quantize = verbs.add_parser("quantize", help="put a model on a profile's integer grid")
    quantize.add_argument("model", help="a .keras model file")
    quantize.add_argument("--profile", required=True, help="a profile name (see 'profiles')")
    quantize.add_argument("-o", "--output", required=True,
                          help="the quantised .keras file (written atomically; never the input)")
    quantize.add_argument("--per-channel", action="store_true",
                          help="one weight scale per output channel")
    quantize.set_defaults(run=_quantize)
    export = verbs.add_parser("export", help="export a model to NIR (HDF5)")
    export.add_argument("model", help="a .keras model file")
    export.add_argument("-o", "--output", required=True, help="the .nir file to write")
    export.add_argument("--dt", type=float, default=None,
                        help="step in seconds (default: the layers' own dt, else 1 ms)")
    export.add_argument("--for-tool", choices=("nir", "snntorch", "norse"), default=None,
                        help="write the graph in the conventions of the tool that reads it")
    export.add_argument("--approximate", type=lambda t: [a for a in t.split(",") if a],
                        default=[], help="comma-separated approximations to accept, e.g. "
                                         "refractory,initial_voltage (see export_nir)")
    export.set_defaults(run=_export)
    energy = verbs.add_parser("energy", help="estimate a model's energy per inference")
    energy.add_argument("model", help="a .keras model file")
    energy.add_argument("--device", default=None,
                        help="a device name (e.g. loihi, cpu); default: the summary table")
    energy.add_argument("--data", default=None,
                        help="example inputs (.npy, or .npz holding x) to measure the "
                             "activity; spiking devices need it")
    energy.add_argument("--timesteps", type=int, default=1,
                        help="timesteps per inference (default 1)")
    energy.set_defaults(run=_energy)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    if argv[:1] == ["demo"]:
        from keras_spiking import demo

        demo.main(argv[1:])
        return 0
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CommandError as error:
        print(f"keras-spiking: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # anything else: still one line and a non-zero code
        print(f"keras-spiking: error: {type(error).__name__}: {_first_line(error)}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
