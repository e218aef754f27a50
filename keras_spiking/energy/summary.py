"""The text tables of ``ModelEnergy.summary``: KerasSpiking's columns, or per-device totals."""

import numbers

from keras_spiking.energy.devices import DEVICES, get_device
from keras_spiking.validation import check_positive_integer

#: KerasSpiking's default columns.
DEFAULT_COLUMNS = ("name", "output_shape", "params", "connections", "neurons", "energy cpu")

#: Column key -> header. Device columns are "<key> <device>".
HEADERS = {
    "name": "Layer (type)",
    "output_shape": "Output shape",
    "params": "Param #",
    "connections": "Conn #",
    "neurons": "Neuron #",
    "rate": "Rate [Hz]",
    "activity": "Events/input/step",
    "synops": "Synops/step",
}
DEVICE_HEADERS = {"energy": "J/inf", "synop_energy": "Synop J/inf",
                  "neuron_energy": "Neuron J/inf"}


def parse_columns(columns):
    """``[(key, device or None), ...]`` of the column names, or a clear error."""
    if isinstance(columns, str) or not isinstance(columns, (list, tuple)) or not columns:
        raise TypeError(
            "ModelEnergy.summary: columns must be a non-empty list or tuple of column "
            f"names, got {columns!r}; e.g. columns=('name', 'energy cpu').")
    parsed = []
    for column in columns:
        key, _, device = column.partition(" ") if isinstance(column, str) else (None,) * 3
        if key in HEADERS and not device:
            parsed.append((key, None))
        elif key in DEVICE_HEADERS and device:
            parsed.append((key, get_device(device.strip())))
        else:
            raise ValueError(
                f"ModelEnergy.summary: unknown column {column!r} in columns; use any of "
                f"{tuple(HEADERS)} or '<energy|synop_energy|neuron_energy> <device>' with "
                f"a device among {list(DEVICES)} (per-device totals: devices=(...)).")
    return parsed


def _fit(widths, limit):
    """Column widths shrunk (widest first) until the row fits ``limit`` characters."""
    widths = list(widths)
    while sum(widths) + len(widths) - 1 > limit and max(widths) > 3:
        widths[widths.index(max(widths))] -= 1
    return widths


def _table(header, rows, widths, sep):
    def line(cells):
        return sep.join(c[:w].ljust(w) if i == 0 else c[:w].rjust(w)
                        for i, (c, w) in enumerate(zip(cells, widths)))

    head = line(header)
    return [head, "-" * len(head)] + [line(r) for r in rows] + ["=" * len(head)]


def _name(row):
    return f"{row.name} ({row.type})" + (" *" if row.once else "")


def columns_table(energy, columns, steps, dt, line_length, print_warnings):
    """KerasSpiking's table: the requested columns per row, totals per device."""
    parsed = parse_columns(columns)
    if isinstance(line_length, bool) or not isinstance(line_length, numbers.Integral):
        raise TypeError(f"ModelEnergy.summary: line_length must be an integer >= 1, got "
                        f"{line_length!r}.")
    line_length = check_positive_integer("ModelEnergy.summary", "line_length", line_length)
    devices = list(dict.fromkeys(d for _, d in parsed if d is not None))
    joules = {d.name: energy.row_energies(d, steps, dt) for d in devices}

    def cell(key, device, i, row):
        if device is not None:
            synop, neuron = joules[device.name][i]
            value = {"energy": synop + neuron, "synop_energy": synop,
                     "neuron_energy": neuron}[key]
            return f"{value:.2g}"
        if key == "name":
            return _name(row)
        if key == "output_shape":
            return str(row.output_shape)
        if key == "params":
            return "-" if row.recurrent else str(row.layer.count_params())
        if key in ("connections", "neurons"):
            return str(row.macs if key == "connections" else row.neurons)
        measured = row.activity is not None
        if key == "rate":
            return f"{row.rate:.3g}" if row.rate is not None else "-"
        if key == "activity":
            return f"{row.events(dt):.3g}" if measured else "-"
        return f"{row.macs * row.events(dt):.3g}" if measured else "-"  # synops

    header = [HEADERS[k] if d is None else f"{DEVICE_HEADERS[k]} ({d.name})"
              for k, d in parsed]
    rows = [[cell(k, d, i, row) for k, d in parsed] for i, row in enumerate(energy.layers)]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    out = _table(header, rows, _fit(widths, line_length), "|")
    for d in devices:
        total = sum(s + n for s, n in joules[d.name])
        how = (f"{steps} step{'s' if steps > 1 else ''}, event-driven" if d.spiking
               else "one ANN pass")
        out.append(f"Total energy per inference [Joules/inf] ({d.name}): {total:.2e} ({how})")
    if any(row.once for row in energy.layers):
        out.append("* runs once per inference (static input before RepeatTime)")
    if print_warnings:
        out += _warnings(energy, devices)
    return "\n".join(out)


def _warnings(energy, devices):
    notes = ["Note: computation only (synaptic operations and neuron updates at published "
             "per-operation energies); moving data on/off the chip and between cores is "
             "not counted, so real figures are higher."]
    rates = [r.name for r in energy.layers if r.neurons and not r.spiking]
    if rates and any(d.spiking for d in devices):
        notes.append(
            f"Note: {rates} are non-spiking neurons; on spiking devices they are assumed "
            "to run as spiking neurons firing at their activation value in Hz (convert "
            "them, e.g. with keras_spiking.layers.SpikingActivation, to be sure).")
    return notes


def devices_table(energy, devices, steps, dt):
    """This package's table: counts per step and joules per inference per device,
    then totals with each device's source."""
    devices = [get_device(d) for d in devices]
    usable = [d for d in devices if energy.measured or not d.spiking]
    per_device = [[s + n for s, n in energy.row_energies(d, steps, dt)] for d in usable]
    header = ["Layer (type)", "Neurons/step", "MACs/step"]
    if energy.measured:
        header += ["Input activity", "Synops/step"]
    header += [f"J/inf ({d.name})" for d in usable]
    rows = []
    for i, s in enumerate(energy.layers):
        row = [_name(s), f"{s.neurons:,}", f"{s.macs:,}"]
        if energy.measured:
            if s.activity is None:
                row += ["-", "-"]
            else:
                events = s.events(dt)
                rate = f" ({events / energy.dt:.3g} Hz)" if energy.dt and dt is None else ""
                row += [f"{events:.3g}{rate}", f"{s.macs * events:,.0f}"]
        row += [f"{e[i]:.3g}" for e in per_device]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    out = _table(header, rows, widths, " | ")
    for once in (False, True):
        if once and not any(s.once for s in energy.layers):
            continue
        macs, synops, neurons = energy.totals(once)
        total = (("* once per inference (static input before RepeatTime): " if once
                  else "Per step: ") + f"{neurons:,} neuron updates, {macs:,} MACs")
        if energy.measured:
            synops = sum(s.macs * s.events(dt) for s in energy.layers if s.once == once)
            total += f", {synops:,.0f} synops"
        out.append(total)
    for d, e in zip(usable, per_device):
        how = (f"{steps} steps, event-driven" if d.spiking else "one ANN pass, every MAC")
        out.append(f"Energy per inference on {d.name} ({how}): {sum(e):.3g} J  [{d.source}]")
    for d in devices:
        if d not in usable:
            out.append(f"{d.name}: skipped (spiking device; pass example_data "
                       "to measure the input activity)")
    out.append("Computation only: data movement on/off chip and between cores "
               "is not included.")
    return "\n".join(out)
