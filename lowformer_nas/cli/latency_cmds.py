"""``measure``, ``predict`` and ``calibrate``: thin wrappers over ``lowformer_nas.latency``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from torch import nn

    from ..arch.config import ArchConfig
    from ..latency.targets.profiles import Profile

BACKENDS = ("torch", "torchscript", "onnxruntime")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected minutes > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected minutes > 0, got {text!r}")
    return value


def _shape_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", metavar="NAME_OR_YAML", help="registered name or YAML file")
    p.add_argument("--resolution", type=_positive, default=224, help="input side (224)")
    p.add_argument("--batch", type=_positive, default=1, help="batch size (1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("measure", help="time a model end to end on this machine")
    _shape_args(p)
    p.add_argument("--backend", choices=BACKENDS, default="torch")
    p.add_argument("--threads", type=_positive, default=1, help="CPU threads (1)")
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda (cpu)")
    p.set_defaults(func=cmd_measure)

    p = subparsers.add_parser("predict", help="predicted latency on a target device")
    _shape_args(p)
    p.add_argument("--target", default="local",
                   help="built-in target (see `lowformer-nas list`) or profile .json (local)")
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser("calibrate", help="fit a latency profile for a device")
    from ..latency.targets.devices import NAME_RULE

    p.add_argument("--device", help=f"name of the device this profile describes "
                                    f"({NAME_RULE.pattern}, never a path)")
    p.add_argument("--backend", choices=BACKENDS, default="torch")
    p.add_argument("--threads", type=_positive, default=1)
    p.add_argument("--budget-minutes", type=_minutes, default=5.0)
    p.add_argument("--space", default="lowformer", help="search space to sample kernels from")
    p.add_argument("--resolution", type=_positive, action="append",
                   help="resolutions to sample (repeatable; default from the space)")
    p.add_argument("--out", help="also write the profile JSON here")
    p.add_argument("--torch-device", default="cpu", help="cpu or cuda (cpu)")
    p.add_argument("--no-progress", action="store_true")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--from-measurements", metavar="CSV",
                     help="fit from whole-model latencies (columns model, latency_ms)")
    src.add_argument("--export-kit", metavar="DIR",
                     help="write ONNX kernels + standalone runner for another device")
    src.add_argument("--import-measurements", metavar="CSV", help="fit from the kit's output")
    src.add_argument("--update-from", metavar="RUN",
                     help="refit the run's target profile with the picks its verify loop "
                          "measured (a search's refits otherwise stay in RUN/verify)")
    src.add_argument("--check-level", action="store_true",
                     help="time the reference set (seconds) and re-level the cached profile of "
                          "--device if this machine got slower or faster since calibration")
    p.add_argument("--force", action="store_true",
                   help="calibrate here even if --device names a device of another "
                        "architecture (or CUDA where --torch-device is cpu)")
    _prior_args(p)
    p.set_defaults(func=cmd_calibrate)


def _check_level(device: str) -> str:
    """``calibrate --device D --check-level``: the cached profile's level, checked now."""
    from ..latency.fitting.refit import measurable_here
    from ..latency.targets.level import relevel_cached
    from ..latency.targets.registry import get_target, user_profile_path

    path = user_profile_path(device)
    if not path.is_file():
        raise ConfigError(f"--check-level: no cached profile {device!r} ({path}); calibrate "
                          f"it first")
    prof = get_target(str(path))
    if not measurable_here(prof):
        raise ConfigError(f"--check-level: profile {device!r} was not calibrated on this "
                          f"machine; check its level on its device")
    prof, check = relevel_cached(prof, path)
    return f"{prof.name}: {check.describe()}"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _prior_args(p: argparse.ArgumentParser) -> None:
    """The device prior for ``--from-measurements`` (see ``lowformer-nas list --devices``)."""
    g = p.add_argument_group("device prior (with --from-measurements)")
    g.add_argument("--like", metavar="DEVICE", help="start from this device's spec sheet")
    g.add_argument("--peak-gflops", type=_positive_float, help="peak GFLOP/s")
    g.add_argument("--bandwidth-gbs", type=_positive_float, help="memory bandwidth, GB/s")
    g.add_argument("--cores", type=_positive, help="cores")
    g.add_argument("--runtime", help="runtime whose graph rewrites apply (tflite, tensorrt, "
                                     "onnxruntime, torchscript, pytorch)")


def _resolve(name: str) -> tuple[str, ArchConfig | nn.Module]:
    """(display name, ArchConfig or timm nn.Module) for a registry name, YAML or timm model."""
    from ..arch.registry import resolve_arch

    try:
        return resolve_arch(name)
    except UnknownNameError:
        import timm

        if timm.is_model(name):
            return name, timm.create_model(name, pretrained=False)
        raise


def cmd_measure(args: argparse.Namespace) -> int:
    from ..latency import measure_latency
    from ..latency.measurement.host import describe_host, platform_facts
    from ..latency.measurement.measure import protocol

    name, model = _resolve(args.arch)  # this process is fresh: it times in place (protocol)
    m = measure_latency(model, resolution=args.resolution, batch=args.batch, backend=args.backend,
                threads=args.threads, device=args.device)
    words, host = protocol(m.backend, m.threads, m.device), platform_facts(m.backend, m.threads,
                                                                           m.device)
    if args.json:
        print(json.dumps(dict(m.to_dict(), arch=name, protocol=words, host=host)))
    else:
        print(f"{name} @{args.resolution} batch {args.batch} ({m.backend}, {m.threads} thread(s),"
              f" {m.device}): {m.latency_ms:.2f} ms median (p10 {m.p10_ms:.2f}, "
              f"p90 {m.p90_ms:.2f}, {m.n} runs)")
        print(f"protocol: {words}")
        print(describe_host(host))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ..arch.config import ArchConfig
    from ..latency import get_target

    name, model = _resolve(args.arch)
    prof = get_target(args.target)
    if isinstance(model, ArchConfig):
        p = prof.predict(model, resolution=args.resolution, batch=args.batch)
    else:
        p = prof.predict_model(model, resolution=args.resolution, batch=args.batch)
    note = prof.resolution_note(args.resolution)
    basis = None if isinstance(model, ArchConfig) else prof.other_family_basis()
    if args.json:
        print(json.dumps(dict(p.to_dict(), arch=name, resolution=args.resolution,
                              batch=args.batch, profile_description=prof.describe(),
                              profile_sha256=prof.sha256, profile_host=prof.host,
                              note=note or None, basis=basis)))
        return 0
    lo, hi = p.central_interval(0.9)
    print(f"{name} @{args.resolution} batch {args.batch} on {prof.name}: "
          f"{p.latency_ms:.2f} +- {p.std_ms:.2f} ms predicted (90% interval "
          f"{lo:.2f}-{hi:.2f} ms)" + (f"\n  {note}" if note else ""))
    for stage, ms in p.per_stage.items():
        print(f"  {stage:<9} {ms:8.2f} ms")
    if basis:
        print(f"basis: {basis}")
    print(f"profile: {prof.describe()}")
    print(prof.describe_host())
    return 0


def _save_user(prof: Profile, out: str | None) -> None:
    from ..latency.targets.registry import user_profile_path

    path = user_profile_path(prof.name)
    prof.save(path)
    if out:
        prof.save(out)
    print(f"profile written to {path}" + (f" and {out}" if out else ""))
    print(f"profile: {prof.describe()}")
    print(prof.describe_host())


def _from_measurements(device: str, args: argparse.Namespace) -> Profile:
    """``--from-measurements CSV`` with the prior the flags describe (default: built-in)."""
    from ..latency.targets.calibrate_models import calibrate_from_models
    from ..latency.targets.devices import build_prior
    from ..latency.targets.profiles import Profile
    from ..latency.targets.registry import ALIASES

    prior = build_prior(args.like and ALIASES.get(args.like, args.like), args.peak_gflops,
                        args.bandwidth_gbs, args.cores, args.runtime)
    if prior is None:
        return calibrate_from_models(device, args.from_measurements)
    prof = calibrate_from_models(device, args.from_measurements, prior=prior.roofline,
                                 traits=prior.traits)
    prov = prof.data["provenance"]
    prov = prov.replace("the given device prior", prior.words, 1) if "the given device prior" \
        in prov else f"prior: {prior.words}; {prov}"
    return Profile(dict(prof.data, provenance=prov, prior=prior.words))


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..latency.targets.registry import device_profile_name, host_contradiction

    prior_flags = [f for f, v in (("--like", args.like), ("--peak-gflops", args.peak_gflops),
                                  ("--bandwidth-gbs", args.bandwidth_gbs),
                                  ("--cores", args.cores), ("--runtime", args.runtime)) if v]
    if prior_flags and not args.from_measurements:
        raise ConfigError(f"{prior_flags[0]} sets the prior of --from-measurements CSV; "
                          f"it has no effect without it")
    if args.update_from:
        from pathlib import Path

        from ..search.verify_update import say_updated, update_target

        print(say_updated(update_target(Path(args.update_from))))
        return 0
    if args.export_kit:
        from ..latency import write_kit

        path = write_kit(args.export_kit, space=args.space, resolutions=args.resolution)
        print(f"kit written to {path}; copy it to the device and run: python run_kit.py "
              f"--threads N  (then: lowformer-nas calibrate --device NAME "
              f"--import-measurements results.csv)")
        return 0
    if not args.device:
        raise ConfigError("calibrate needs --device NAME (or --export-kit DIR)")
    device = device_profile_name(args.device)
    if args.check_level:
        print(_check_level(device))
        return 0
    if args.from_measurements:
        prof = _from_measurements(device, args)
    elif args.import_measurements:
        from ..latency.targets.export_kit import import_measurements

        prof = import_measurements(device, args.import_measurements)
    else:
        why = None if args.force else host_contradiction(args.device, args.torch_device)
        if why:
            raise ConfigError(why)
        from ..latency import calibrate_device

        prof = calibrate_device(device=device, backend=args.backend, threads=args.threads,
                                budget_minutes=args.budget_minutes, space=args.space,
                                resolutions=args.resolution, torch_device=args.torch_device,
                                progress=not args.no_progress and sys.stderr.isatty())
    _save_user(prof, args.out)
    return 0
