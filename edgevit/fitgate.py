"""Mixed precision driven by the parity gate: `edgevit export ... --quantization int8-dynamic --fit-gate`.

    result = fit_gate(saved_model, out_dir, job)     # job: an ONNX int8-dynamic or TFLite dynamic ArtifactJob

1. Build the fully quantized artifact and measure it on the CALIBRATION split (default: valid).
2. Rank the transformer blocks by measured sensitivity: the SQNR each block's output loses against
   its input in the layer-wise parity of that artifact (edgevit.verify.layers), largest loss first.
3. Keep the top 1, 2, ... blocks in float (the format's own mechanism: ONNX quantize_dynamic's
   nodes_to_exclude; TFLite, an AI Edge Quantizer recipe that leaves their ops float, the one that
   also builds step 0), re-verify each on the calibration split, and stop at the first that passes the
   gate: the one with fewest float blocks, i.e. the smallest of the search.
4. Build it into OUT/<name> and confirm it on the TEST split: the gate is never tuned on the data it
   is judged on. Its manifest carries the plan (float layers and nodes) and every search step.

Every step records its file size, calibration agreement and a latency p50 (batch 1, this machine, timed
here). No mix passing, even with every block in float, is a ParityError giving the best agreement
reached and its size. The modes with a per-layer mechanism: edgevit.exporters.options.FLOAT_LAYER_MODES.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgevit.errors import ParityError, UsageError
from edgevit.formats import Gate
from edgevit.fsutil import atomic_write_json, load_json
from edgevit.config import MANIFEST_NAME

logger = logging.getLogger(__name__)

CALIBRATION_SPLIT, TEST_SPLIT = "valid", "test"
RANKING_IMAGES = 8
LATENCY_RUNS = 10


@dataclass(frozen=True)
class Step:
    float_layers: tuple[str, ...]
    file_size: int
    agreement: float
    verdict: str  # "pass" or anything else: not passing
    p50_ms: float

    def to_dict(self) -> dict:
        return {"float_layers": list(self.float_layers), "file_size": self.file_size, "agreement": self.agreement,
                "verdict": self.verdict, "latency_p50_ms": round(self.p50_ms, 3),
                "latency_timed": f"batch 1, median of {LATENCY_RUNS} runs after 2 warm-ups, this machine"}


@dataclass(frozen=True)
class FitResult:
    folder: Path
    steps: tuple[Step, ...]
    chosen: Step
    test_agreement: float
    test_verdict: str


def gate_verdict(gate: Gate, metrics) -> str:
    """THE gate call of the search: verify's three-valued verdict ("pass", "fail", "inconclusive"); the search
    counts only "pass", so a mix is kept only when its intervals clear the gate on the calibration split."""
    from edgevit.verify.gates import judge

    return judge(gate, agreement=metrics.agreement_ci, difference=metrics.difference, max_abs_error=metrics.max_abs_error,
                 non_finite=metrics.non_finite).verdict.value


def _check_job(job) -> None:
    from edgevit.exporters.options import FLOAT_LAYER_MODES

    if (job.format, job.options.quantization) not in FLOAT_LAYER_MODES:
        modes = " and ".join(f"{fmt.value} {quantization.value}" for fmt, quantization in FLOAT_LAYER_MODES)
        raise UsageError(f"--fit-gate keeps layers in float per layer for {modes} only so far; "
                         f"got {job.format.value} {job.options.quantization.value}")


def _measure(folder: Path, gate: Gate, *, saved_model: Path, data, split: str) -> tuple[float, str]:
    from edgevit.verify.run import verify_artifacts

    # verify logs its own verdict by the artifact's default gate; the search's verdict (its gate) is logged instead.
    verify_logger = logging.getLogger("edgevit.verify.run")
    level = verify_logger.level
    verify_logger.setLevel(logging.WARNING)
    try:
        report = verify_artifacts([folder], saved_model=saved_model, data=data, split=split)
    finally:
        verify_logger.setLevel(level)
    result = report.results[0]
    if result.metrics is None:
        raise ParityError(f"{folder.name}: {result.status.value} ({result.reason})")
    return result.metrics.agreement, gate_verdict(gate, result.metrics)


def _latency_ms(folder: Path) -> float:
    from edgevit.runners import open_artifact, runner_for

    artifact = open_artifact(folder)
    runner = runner_for(artifact)
    try:
        height, width = artifact.input_size
        image = np.zeros((1, height, width, 3), np.float32)
        for _ in range(2):
            runner.predict(image)
        times = []
        for _ in range(LATENCY_RUNS):
            began = time.perf_counter()
            runner.predict(image)
            times.append((time.perf_counter() - began) * 1000)
    finally:
        runner.close()
    return float(np.median(times))


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
    with tempfile.TemporaryDirectory(prefix="edgevit-fit-gate-") as scratch:  # the search's artifacts: gone after it
        def build(layers: tuple[str, ...], index: int) -> Step:
            folder = _export(saved_model, Path(scratch), replace(job, name=f"step-{index}"), options, layers)
            agreement, verdict = _measure(folder, gate, saved_model=saved_model, data=data, split=calibration_split)
            step = Step(layers, int(load_json(folder / MANIFEST_NAME)["file_size"]), agreement, verdict, _latency_ms(folder))
            logger.info(f"fit-gate step {index}: {len(layers)} block(s) in float, {step.file_size / 1e6:.3f} MB, "
                        f"{calibration_split} agreement {agreement:.2%}: {verdict}")
            steps.append(step)
            return step

        step = build((), 0)
        ranked = rank_blocks(Path(scratch) / "step-0", saved_model=saved_model, data=data, split=calibration_split)
        logger.info(f"blocks by sensitivity: {', '.join(ranked)}")
        n = 0
        while step.verdict != "pass" and n < len(ranked):
            n += 1
            step = build(tuple(ranked[:n]), n)
        if step.verdict != "pass":
            best = max(steps, key=lambda s: (s.agreement, -s.file_size))
            raise ParityError(
                f"no precision mix meets the gate of {job.name} on the {calibration_split} split: the best agreement reached is "
                f"{best.agreement:.2%} at {best.file_size / 1e6:.3f} MB ({len(best.float_layers)} of {len(ranked)} blocks in float)"
            )
    folder = _export(saved_model, out_dir, job, options, step.float_layers)
    test_agreement, test_verdict = _measure(folder, gate, saved_model=saved_model, data=data, split=test_split)
    manifest = load_json(folder / MANIFEST_NAME)
    manifest["fit_gate"] = {"gate": gate.to_dict(), "calibration_split": calibration_split, "test_split": test_split,
                            "ranking": "SQNR lost per block in edgevit debug layers of the fully quantized artifact",
                            "float_layers": list(step.float_layers), "steps": [s.to_dict() for s in steps],
                            "test": {"agreement": test_agreement, "verdict": test_verdict}}
    atomic_write_json(folder / MANIFEST_NAME, manifest)
    return FitResult(folder, tuple(steps), step, test_agreement, test_verdict)
