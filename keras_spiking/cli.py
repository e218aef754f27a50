"""The ``keras-spiking`` command.

    keras-spiking demo [--epochs 5] [--quick]          the Fashion-MNIST main job
    keras-spiking profiles                             the hardware profiles
    keras-spiking check MODEL.keras --profile NAME     does the model fit the chip?
    keras-spiking quantize MODEL.keras --profile NAME -o OUT.keras
    keras-spiking export MODEL.keras -o OUT.nir [--dt SECONDS]
    keras-spiking energy MODEL.keras [--device loihi --data X.npy] [--timesteps T]

Every verb has ``--help``; an error prints one line ``keras-spiking: error:
...`` and exits with a non-zero code (2 for bad arguments, 1 otherwise);
``check`` exits with 1 when the model does not fit.
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
    import keras

    import keras_spiking  # noqa: F401  (registers the package's layers)

    _model_path(path)
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
    folder = os.path.dirname(os.path.abspath(out))
    handle, tmp = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    try:
        quantized.save(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(report)
    print(f"wrote {out}")
    return 0


def _export(args):
    from keras_spiking.converters import export_nir

    out = _output(args.output, ".nir", args.model)
    model = _load(args.model)
    try:
        export_nir(model, out, dt=args.dt)
    except (ValueError, TypeError) as error:
        raise CommandError(str(error).splitlines()[0]) from None
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


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-spiking", description="Spiking neural networks in Keras 3.")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = verbs.add_parser("demo", add_help=False,
                            help="train an all-LIF CNN on Fashion-MNIST (the main job)")
    demo.set_defaults(run=None)
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


if __name__ == "__main__":
    sys.exit(main())
