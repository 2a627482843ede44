"""Mixed precision driven by the parity gate: `edgevit export ... --quantization int8-dynamic --fit-gate`.

    result = fit_gate(saved_model, out_dir, job)     # job: an ArtifactJob of a mode in FLOAT_LAYER_MODES
    records = fit_records(result)                    # one record-v1 "fit-gate" record per step

1. Build the fully quantized artifact and measure it on the CALIBRATION split (default: valid).
2. Rank the transformer blocks by measured sensitivity: the SQNR each block's output loses against
   its input in the layer-wise parity of that artifact (edgevit.verify.layers), largest loss first.
3. Keep the top 1, 2, ... blocks in float (the exporter option `float_layers`, each format's own mechanism:
   ONNX quantize_dynamic's nodes_to_exclude; TFLite, an AI Edge Quantizer recipe that leaves their ops float,
   the one that also builds step 0; Core ML OptimizationConfig op_name_configs set to None),
   re-verify each on the calibration split, and stop at the first that passes the
   gate: the one with fewest float blocks, i.e. the smallest of the search.
4. Build it into OUT/<name> and confirm it on the TEST split: the gate is never tuned on the data it
   is judged on. Its manifest carries the plan (float layers and nodes) and every search step.

Every step records its file size, calibration agreement and a latency p50 (batch 1, this machine, timed
here, on the format's default runtime: for Core ML on Linux that is the numpy MIL interpreter, emulated).
No mix passing, even with every block in float, is a NoMixPasses (a ParityError) giving the best agreement
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
from edgevit.formats import Gate
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


def _measure(folder: Path, gate: Gate, *, saved_model: Path, data, split: str) -> tuple[float, str, dict]:
    """(agreement, the search gate's verdict, the record's parity and artifact blocks) on `split`."""
    from edgevit.verify.report import result_to_record
    from edgevit.verify.run import verify_artifacts

    # verify logs its own verdict, and warns about its split's size, by the artifact's default gate; the search's
    # verdict (its gate) is logged instead, and fit_gate warns once if the split cannot show the search's gate passed.
    verify_logger = logging.getLogger("edgevit.verify.run")
    level = verify_logger.level
    verify_logger.setLevel(logging.ERROR)
    try:
        report = verify_artifacts([folder], saved_model=saved_model, data=data, split=split)
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


def rank_blocks(folder: Path, *, saved_model: Path, data, split: str) -> list[str]:
    """Transformer blocks, most sensitive first: the SQNR each one's output loses against its input."""
    from edgevit.verify.layers.compare import capped
    from edgevit.verify.layers.run import COMPARED, layer_parity

    report = layer_parity([folder], saved_model=saved_model, data=data, split=split, max_images=RANKING_IMAGES)
    result = report.results[0]
    chain = [b for b in result.boundaries if b.status == COMPARED and b.boundary.kind in ("embedding", "block")]
    drops = [(capped(before.sqnr_db) - capped(after.sqnr_db), after.boundary.name)
             for before, after in zip(chain, chain[1:]) if after.boundary.kind == "block"]
    return [name for _, name in sorted(drops, key=lambda d: -d[0])]


def fit_gate(saved_model: Path, out_dir: Path, job, *, gate: Gate, data=None,
             calibration_split: str = CALIBRATION_SPLIT, test_split: str = TEST_SPLIT) -> FitResult:
    from edgevit.exporters.options import options_to_dict

    _check_job(job)
    if calibration_split == test_split:
        raise UsageError(f"the calibration split must differ from the test split ({test_split}): the gate is never tuned on the data it judges")
    from edgevit.exporters.options import FLOAT_LAYER_MODES

    # Every step through the same per-layer mechanism (TFLite: AI Edge Quantizer, step 0 included).
    options = {**{k: v for k, v in options_to_dict(job.options).items() if k != "float_layers"},
               **FLOAT_LAYER_MODES[(job.format, job.options.quantization)]}
    out_dir = Path(out_dir)
    steps: list[Step] = []
    search = dict(name=job.name, gate=gate, calibration_split=calibration_split, test_split=test_split, started=now_iso())
    with tempfile.TemporaryDirectory(prefix="edgevit-fit-gate-") as scratch:  # the search's artifacts: gone after it
        def build(layers: tuple[str, ...], index: int) -> Step:
            folder = _export(saved_model, Path(scratch), replace(job, name=f"step-{index}"), options, layers)
            agreement, verdict, blocks = _measure(folder, gate, saved_model=saved_model, data=data, split=calibration_split)
            p50, timing = _timed(folder)
            manifest = load_json(folder / MANIFEST_NAME)
            plan = {k: v for k, v in manifest["conversion"].items() if k in ("float_nodes", "float_ops")}
            step = Step(layers, int(manifest["file_size"]), agreement, verdict, p50, {**blocks, **timing, "plan": plan})
            logger.info(f"fit-gate step {index}: {len(layers)} block(s) in float, {step.file_size / 1e6:.3f} MB, "
                        f"{calibration_split} agreement {agreement:.2%}: {verdict}")
            steps.append(step)
            return step

        step = build((), 0)
        from edgevit.verify.run import resolution_warnings

        for warning in resolution_warnings({Path(job.name): gate}, step.blocks["parity"]["count"], None):
            logger.warning(f"fit-gate on the {calibration_split} split: {warning}")
        ranked = rank_blocks(Path(scratch) / "step-0", saved_model=saved_model, data=data, split=calibration_split)
        logger.info(f"blocks by sensitivity: {', '.join(ranked)}")
        n = 0
        while step.verdict != "pass" and n < len(ranked):
            n += 1
            step = build(tuple(ranked[:n]), n)
        if step.verdict != "pass":
            best = max(steps, key=lambda s: (s.agreement, -s.file_size))
            raise NoMixPasses(
                f"no precision mix meets the gate of {job.name} on the {calibration_split} split: the best agreement reached is "
                f"{best.agreement:.2%} at {best.file_size / 1e6:.3f} MB ({len(best.float_layers)} of {len(ranked)} blocks in float)",
                FitResult(out_dir / job.name, tuple(steps), None, None, None, ranking=tuple(ranked), **search),
            )
    folder = _export(saved_model, out_dir, job, options, step.float_layers)
    test_agreement, test_verdict, test_blocks = _measure(folder, gate, saved_model=saved_model, data=data, split=test_split)
    manifest = load_json(folder / MANIFEST_NAME)
    manifest["fit_gate"] = {"gate": gate.to_dict(), "calibration_split": calibration_split, "test_split": test_split,
                            "ranking": "SQNR lost per block in edgevit debug layers of the fully quantized artifact",
                            "float_layers": list(step.float_layers), "steps": [s.to_dict() for s in steps],
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
    chosen = len(result.steps) - 1 if result.chosen is not None else None
    statuses = {"pass": STATUS_OK, "fail": STATUS_PARITY_FAILED}
    records = []
    for i, step in enumerate(result.steps):
        status = statuses.get(step.verdict, STATUS_PARITY_INCONCLUSIVE)
        reason = None if status == STATUS_OK else (
            f"step {i} ({len(step.float_layers)} block(s) in float): {step.verdict} against the search's gate on the "
            f"{result.calibration_split} split")
        runtime, latency = step.blocks["runtime"], step.blocks["latency"]
        timed = (f"Latency: batch-1 predict of a zero image on {runtime['name']}"
                 + (" (emulated: a reference-only runner, not the format's own runtime)" if runtime["emulated"] else "")
                 + f", {latency['runs']} runs after {latency['warmup']} warm-ups, this machine; agreement: top-1 equal to the "
                 f"SavedModel's on the {result.calibration_split} split")
        fit = {"search": f"{result.name}@{result.started}", "step": i, "float_layers": list(step.float_layers),
               "plan": step.blocks["plan"], "chosen": i == chosen, "gate": _gate_block(result.gate),
               "calibration_split": result.calibration_split, "test_split": result.test_split,
               "ranking": list(result.ranking), "test": result.test_parity if i == chosen else None}
        artifact = {**step.blocks["artifact"], "name": result.name}  # the scratch folder's name says nothing
        records.append(new_record(kind="fit-gate", status=status, reason=reason, machine=machine, tool_versions=versions,
                                  producer="edgevit export --fit-gate", artifact=artifact, runtime=runtime,
                                  latency=step.blocks["latency"], parity=step.blocks["parity"], fit_gate=fit, command=command,
                                  notes=timed))
    return records
