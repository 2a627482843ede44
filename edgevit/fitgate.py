"""Mixed precision driven by the parity gate: `edgevit export ... --quantization int8-dynamic --fit-gate`.

    result = fit_gate(saved_model, out_dir, job)     # job: an ArtifactJob of a mode in FLOAT_LAYER_MODES
    records = fit_records(result)                    # one record-v1 "fit-gate" record per step

1. Build the fully quantized artifact and measure it on the CALIBRATION split (default: valid).
2. Rank the layers whose weights it compresses (patch embedding, transformer blocks, head) by measured
   sensitivity: the SQNR each one's output loses against its input in the layer-wise parity of that artifact
   (edgevit.verify.layers), largest loss first (rank_layers).
3. Keep the top n layers in float (the exporter option `float_layers`, each format's own mechanism:
   ONNX quantize_dynamic's nodes_to_exclude; TFLite, an AI Edge Quantizer recipe that leaves their ops float,
   the one that also builds step 0; Core ML OptimizationConfig op_name_configs set to None) and re-verify on
   the calibration split. n is searched, not stepped (search_float_count): n = 1, 2, 4, 8, ... until a mix
   passes, then halving the gap between the largest n that failed and the smallest that passed. That is
   2 log2(layers) builds at most instead of one per layer (a ViT-L/32 build and verify takes minutes); it
   finds the fewest float layers, i.e. the smallest artifact, when keeping more of the ranked layers float
   never loses agreement, and every mix it built is a step in the records either way. With max_size, a step
   larger than it is not a candidate and no larger n is tried.
4. Build it into OUT/<name> and confirm it on the TEST split: the gate is never tuned on the data it
   is judged on. Its manifest carries the plan (float layers and nodes) and every search step.

Every step records its file size, calibration agreement and a latency p50 (batch 1, this machine, timed
here, on the format's default runtime: for Core ML on Linux that is the numpy MIL interpreter, emulated).
No mix passing, even with every ranked layer in float, is a NoMixPasses (a ParityError) giving the best agreement
reached and its size, and carrying the steps for the records. The modes searched, and the options every
step of their search takes: edgevit.exporters.options.FLOAT_LAYER_MODES.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from edgevit.errors import ParityError, UsageError
from edgevit.formats import Format, Gate
from edgevit.fsutil import atomic_write_json, load_json
from edgevit.portable.records import now_iso
from edgevit.config import MANIFEST_NAME

logger = logging.getLogger(__name__)

CALIBRATION_SPLIT, TEST_SPLIT = "valid", "test"
RANKING_IMAGES = 8
LATENCY_RUNS = 10
WARMUPS = 2


@dataclass(frozen=True)
class Step:
    float_layers: tuple[str, ...]
    file_size: int
    agreement: float
    verdict: str  # "pass" or anything else: not passing
    p50_ms: float
    # For the records (fit_records): the step's record blocks, each measured or read in this run.
    blocks: dict = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        return {"float_layers": list(self.float_layers), "file_size": self.file_size, "agreement": self.agreement,
                "verdict": self.verdict, "latency_p50_ms": round(self.p50_ms, 3),
                "latency_timed": f"batch 1, median of {LATENCY_RUNS} runs after {WARMUPS} warm-ups, this machine{_on(self.blocks)}"}


def _on(blocks: dict) -> str:
    runtime = blocks.get("runtime")
    return "" if not runtime else f", {runtime['name']}" + (" (emulated)" if runtime["emulated"] else "")


@dataclass(frozen=True)
class FitResult:
    folder: Path
    steps: tuple[Step, ...]
    chosen: Step
    test_agreement: float | None
    test_verdict: str | None
    # What the records say about the search as a whole (fit_records).
    name: str = ""
    gate: Gate | None = None
    calibration_split: str = CALIBRATION_SPLIT
    test_split: str = TEST_SPLIT
    ranking: tuple[str, ...] = ()
    started: str = ""
    test_parity: dict | None = None
    max_size: int | None = None


class NoMixPasses(ParityError):
    """No precision mix met the gate on the calibration split; `result` holds every step (chosen: None)."""

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


def gate_verdict(gate: Gate, metrics) -> str:
    """THE gate call of the search: verify's three-valued verdict ("pass", "fail", "inconclusive"); the search
    counts only "pass", so a mix is kept only when its intervals clear the gate on the calibration split."""
    from edgevit.verify.gates import judge

    return judge(gate, agreement=metrics.agreement_ci, difference=metrics.difference, max_abs_error=metrics.max_abs_error,
                 non_finite=metrics.non_finite).verdict.value


def _check_job(job) -> None:
    from edgevit.exporters.options import FLOAT_LAYER_MODES, float_layer_modes_text

    if (job.format, job.options.quantization) not in FLOAT_LAYER_MODES:
        raise UsageError(f"--fit-gate keeps layers in float per layer for {float_layer_modes_text()} only so far; "
                         f"got {job.format.value} {job.options.quantization.value}")


def _measure(folder: Path, gate: Gate, *, saved_model: Path, data, split: str, reference_cache: dict) -> tuple[float, str, dict]:
    """(agreement, the search gate's verdict, the record's parity and artifact blocks) on `split`."""
    from edgevit.verify.report import result_to_record
    from edgevit.verify.run import verify_artifacts

    # verify logs its own verdict, and warns about its split's size, by the artifact's default gate; the search's
    # verdict (its gate) is logged instead, and fit_gate warns once if the split cannot show the search's gate passed.
    verify_logger = logging.getLogger("edgevit.verify.run")
    level = verify_logger.level
    verify_logger.setLevel(logging.ERROR)
    try:
        report = verify_artifacts([folder], saved_model=saved_model, data=data, split=split, reference_cache=reference_cache)
    finally:
        verify_logger.setLevel(level)
    result = report.results[0]
    if result.metrics is None:
        raise ParityError(f"{folder.name}: {result.status.value} ({result.reason})")
    verdict = gate_verdict(gate, result.metrics)
    record = result_to_record(result, report, machine={}, versions={})
    # Judged by the search's gate, not the artifact's default one verify applied.
    parity = {**record["parity"], "gate": _gate_block(gate), "verdict": verdict, "passed": verdict == "pass"}
    return result.metrics.agreement, verdict, {"parity": parity, "artifact": record["artifact"]}


def _gate_block(gate: Gate) -> dict:
    from edgevit.verify.gates import describe_gate

    return {**gate.to_dict(), "meaning": describe_gate(gate)}


def _timed(folder: Path) -> tuple[float, dict]:
    """(p50 ms, the record's runtime and latency blocks): batch-1 predict on the format's default runtime."""
    from edgevit.portable.timing import latency_block
    from edgevit.runners import open_artifact, runner_for

    artifact = open_artifact(folder)
    runner = runner_for(artifact)
    try:
        height, width = artifact.input_size
        image = np.zeros((1, height, width, 3), np.float32)
        for _ in range(WARMUPS):
            runner.predict(image)
        times = []
        for _ in range(LATENCY_RUNS):
            began = time.perf_counter()
            runner.predict(image)
            times.append((time.perf_counter() - began) * 1000)
        info = runner.info
    finally:
        runner.close()
    runtime = {"name": info.runtime, "version": info.version, "device": info.device, "threads": info.threads,
               "emulated": info.emulated, "details": info.details}
    latency = {**latency_block(times, batch=1, warmup=WARMUPS), "clock": "time.perf_counter"}
    return float(np.median(times)), {"runtime": runtime, "latency": latency}


def _export(saved_model: Path, out_dir: Path, job, options: dict, float_layers: tuple[str, ...]) -> Path:
    """One artifact through `edgevit export`'s own path: a child process, logs in OUT/logs, OUT/artifacts.json."""
    from edgevit.exporters.jobs import ArtifactJob, export_all, raise_for_failures

    built = ArtifactJob.create(job.format, name=job.name, **options, float_layers=list(float_layers))
    raise_for_failures(export_all(saved_model=saved_model, out_dir=out_dir, jobs=[built]))
    return out_dir / job.name


def _within(size: int, max_size: int | None) -> bool:
    """Whether an artifact of `size` bytes fits the search's budget (None: no budget)."""
    return max_size is None or size <= max_size


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)  # a scratch step of this search: the search's own temporary folder


# Layers a format's per-layer mechanism cannot name: coremltools folds the patch embedding's convolution weight and
# the head's dense weight (each with its transpose) into new constants named after no layer (conv_0_weight_0), so
# op_name_configs cannot reach them; the Core ML exporter fails a step that asks (measured on the DINOv2 demo).
UNREACHABLE_KINDS = {Format.COREML: ("embedding", "head")}


def rank_layers(folder: Path, *, saved_model: Path, data, split: str, skip_kinds: tuple[str, ...] = ()) -> list[str]:
    """The layers a search may keep float, most sensitive first: the patch embedding, the transformer blocks and the
    head, each by the SQNR its output loses against its input in the artifact's layer report (ArtifactLayers.
    layer_drops); then any block whose output the artifact does not hold, in model order: unmeasured, but still a
    block the search can keep float. An embedding or head the artifact does not hold apart (a converter fused it
    away) is not a candidate: nothing would say its ops were found; nor is a layer of a kind in `skip_kinds`."""
    from edgevit.verify.layers.run import layer_parity

    report = layer_parity([folder], saved_model=saved_model, data=data, split=split, max_images=RANKING_IMAGES)
    result = report.results[0]
    ranked = [b.boundary.name for _, b in sorted(result.layer_drops(), key=lambda d: -d[0]) if b.boundary.kind not in skip_kinds]
    unmeasured = [b.boundary.name for b in result.boundaries if b.boundary.kind == "block" and b.boundary.name not in ranked]
    return ranked + unmeasured


def search_float_count(count: int, build, *, passes):
    """The step with the fewest float layers that passes, or None: `build(n)` builds and measures the mix with the n
    most sensitive layers float (n = 1..count; n = 0 was built and failed), or returns None for a mix over the size
    budget. n doubles until a step passes, then the gap between the largest failing n and the smallest passing one is
    halved. A mix over the budget caps n below it (sizes only grow with n), and the cap is halved towards the largest
    failing n the same way."""
    failed, cap, passed, capped = 0, count, None, False
    while passed is None and failed < cap:
        n = -(-(failed + cap) // 2) if capped else min(max(2 * failed, failed + 1), cap)
        step = build(n)
        if step is None:
            cap, capped = n - 1, True
        elif passes(step):
            passed = (n, step)
        else:
            failed = n
    if passed is None:
        return None
    while passed[0] - failed > 1:
        n = (failed + passed[0]) // 2
        step = build(n)  # never over the budget: smaller than a mix that fitted
        if step is not None and passes(step):
            passed = (n, step)
        else:
            failed = n
    return passed[1]


def _no_mix_message(name: str, split: str, steps: list[Step], layers: int, max_size: int | None) -> str:
    candidates = [s for s in steps if _within(s.file_size, max_size)]
    if not candidates:  # even the fully quantized artifact is over the budget
        return (f"no precision mix of {name} fits within {max_size / 1e6:.3f} MB: the fully quantized artifact alone is "
                f"{steps[0].file_size / 1e6:.3f} MB; raise --max-size or pick a smaller mode")
    best = max(candidates, key=lambda s: (s.agreement, -s.file_size))
    within = "" if max_size is None else f" within {max_size / 1e6:.3f} MB"
    return (f"no precision mix{within} meets the gate of {name} on the {split} split: the best agreement reached"
            f"{within} is {best.agreement:.2%} at {best.file_size / 1e6:.3f} MB ({len(best.float_layers)} of {layers} "
            f"layers in float)")


def fit_gate(saved_model: Path, out_dir: Path, job, *, gate: Gate, data=None,
             calibration_split: str = CALIBRATION_SPLIT, test_split: str = TEST_SPLIT,
             max_size: int | None = None) -> FitResult:
    """max_size: the largest artifact (bytes) the search may choose, e.g. a share of the float model's size."""
    from edgevit.exporters.options import options_to_dict

    _check_job(job)
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
        raise UsageError(f"the size budget must be a positive number of bytes, got {max_size!r}")
    if calibration_split == test_split:
        raise UsageError(f"the calibration split must differ from the test split ({test_split}): the gate is never tuned on the data it judges")
    from edgevit.exporters.options import FLOAT_LAYER_MODES

    # Every step through the same per-layer mechanism (TFLite: AI Edge Quantizer, step 0 included).
    options = {**{k: v for k, v in options_to_dict(job.options).items() if k != "float_layers"},
               **FLOAT_LAYER_MODES[(job.format, job.options.quantization)]}
    out_dir = Path(out_dir)
    steps: list[Step] = []
    reference_cache: dict = {}  # the SavedModel runs once per split, not once per step
    search = dict(name=job.name, gate=gate, calibration_split=calibration_split, test_split=test_split, started=now_iso(),
                  max_size=max_size)
    with tempfile.TemporaryDirectory(prefix="edgevit-fit-gate-") as scratch:  # the search's artifacts: gone after it
        def build(layers: tuple[str, ...], index: int) -> Step | None:
            folder = _export(saved_model, Path(scratch), replace(job, name=f"step-{index}"), options, layers)
            manifest = load_json(folder / MANIFEST_NAME)
            size = int(manifest["file_size"])
            if layers and not _within(size, max_size):  # not a candidate: not worth verifying
                logger.info(f"fit-gate: {len(layers)} layer(s) in float is {size / 1e6:.3f} MB, over the "
                            f"{max_size / 1e6:.3f} MB budget: not verified, fewer layers tried")
                _remove(folder)
                return None
            agreement, verdict, blocks = _measure(folder, gate, saved_model=saved_model, data=data, split=calibration_split,
                                                 reference_cache=reference_cache)
            p50, timing = _timed(folder)
            plan = {k: v for k, v in manifest["conversion"].items() if k in ("float_nodes", "float_ops")}
            step = Step(layers, size, agreement, verdict, p50, {**blocks, **timing, "plan": plan})
            logger.info(f"fit-gate step {index}: {len(layers)} layer(s) in float, {step.file_size / 1e6:.3f} MB, "
                        f"{calibration_split} agreement {agreement:.2%}: {verdict}")
            steps.append(step)
            return step

        step = build((), 0)  # step 0 is always measured: the baseline of the curve, and the artifact ranked
        from edgevit.verify.run import resolution_warnings

        for warning in resolution_warnings({Path(job.name): gate}, step.blocks["parity"]["count"], None):
            logger.warning(f"fit-gate on the {calibration_split} split: {warning}")
        chosen = step if step.verdict == "pass" and _within(step.file_size, max_size) else None
        ranked: list[str] = []
        if chosen is None:
            ranked = rank_layers(Path(scratch) / "step-0", saved_model=saved_model, data=data, split=calibration_split,
                                 skip_kinds=UNREACHABLE_KINDS.get(job.format, ()))
            logger.info(f"layers by sensitivity: {', '.join(ranked)}")
            if _within(step.file_size, max_size):
                chosen = search_float_count(len(ranked), lambda n: build(tuple(ranked[:n]), len(steps)),
                                            passes=lambda s: s.verdict == "pass")
        if chosen is None:
            raise NoMixPasses(_no_mix_message(job.name, calibration_split, steps, len(ranked), max_size),
                              FitResult(out_dir / job.name, tuple(steps), None, None, None, ranking=tuple(ranked), **search))
        step = chosen
    folder = _export(saved_model, out_dir, job, options, step.float_layers)
    test_agreement, test_verdict, test_blocks = _measure(folder, gate, saved_model=saved_model, data=data, split=test_split,
                                                          reference_cache=reference_cache)
    manifest = load_json(folder / MANIFEST_NAME)
    manifest["fit_gate"] = {"gate": gate.to_dict(), "calibration_split": calibration_split, "test_split": test_split,
                            "ranking": "SQNR lost per layer (patch embedding, blocks, head) in edgevit debug layers of the fully quantized artifact",
                            "float_layers": list(step.float_layers), "max_size": max_size, "steps": [s.to_dict() for s in steps],
                            "test": {"agreement": test_agreement, "verdict": test_verdict}}
    atomic_write_json(folder / MANIFEST_NAME, manifest)
    return FitResult(folder, tuple(steps), step, test_agreement, test_verdict, ranking=tuple(ranked),
                     test_parity=test_blocks["parity"], **search)


def fit_records(result: FitResult, *, command: str | None = None) -> list[dict]:
    """One record-v1 "fit-gate" record per step of the search (edgevit/records.py): the step's artifact, its parity on
    the calibration split under the search's gate, its batch-1 latency and the runtime that ran it, and which search it
    belongs to; the chosen step also carries its confirmation on the test split. Every number was measured in the search."""
    from edgevit.manifest import tool_versions
    from edgevit.portable.machine import fingerprint
    from edgevit.records import STATUS_OK, STATUS_PARITY_FAILED, STATUS_PARITY_INCONCLUSIVE, new_record

    machine, versions = fingerprint(), tool_versions()
    chosen = next((i for i, step in enumerate(result.steps) if step is result.chosen), None)
    statuses = {"pass": STATUS_OK, "fail": STATUS_PARITY_FAILED}
    records = []
    for i, step in enumerate(result.steps):
        status = statuses.get(step.verdict, STATUS_PARITY_INCONCLUSIVE)
        reason = None if status == STATUS_OK else (
            f"step {i} ({len(step.float_layers)} layer(s) in float): {step.verdict} against the search's gate on the "
            f"{result.calibration_split} split")
        runtime, latency = step.blocks["runtime"], step.blocks["latency"]
        timed = (f"Latency: batch-1 predict of a zero image on {runtime['name']}"
                 + (" (emulated: a reference-only runner, not the format's own runtime)" if runtime["emulated"] else "")
                 + f", {latency['runs']} runs after {latency['warmup']} warm-ups, this machine; agreement: top-1 equal to the "
                 f"SavedModel's on the {result.calibration_split} split")
        fit = {"search": f"{result.name}@{result.started}", "step": i, "float_layers": list(step.float_layers),
               "plan": step.blocks["plan"], "chosen": i == chosen, "gate": _gate_block(result.gate),
               "calibration_split": result.calibration_split, "test_split": result.test_split,
               "ranking": list(result.ranking), "max_size": result.max_size, "test": result.test_parity if i == chosen else None}
        artifact = {**step.blocks["artifact"], "name": result.name}  # the scratch folder's name says nothing
        records.append(new_record(kind="fit-gate", status=status, reason=reason, machine=machine, tool_versions=versions,
                                  producer="edgevit export --fit-gate", artifact=artifact, runtime=runtime,
                                  latency=step.blocks["latency"], parity=step.blocks["parity"], fit_gate=fit, command=command,
                                  notes=timed))
    return records
