"""Parity: does each artifact still give the SavedModel's answers on a labelled split?

    report = verify_artifacts(["out/"], split="test")        # every artifact folder under out/
    for result in report.results: print(result.name, result.status, result.reason)

The reference is the SavedModel the artifacts were exported from (recorded in their manifests, or
`saved_model=`); the data is a labelled split (default: the test split of the data set recorded in
the SavedModel's manifest). Every model sees images decoded once and put through
edgevit.data.preprocess's normalisation with the preprocessing block of ITS OWN manifest (what a
device would do), so a manifest with a wrong mean/std fails parity rather than being silently fixed.

Each artifact ends in one status: "passed" (every interval clears its gate), "parity failed" (one lies
wholly beyond its gate: the failures say which number missed and by how much), "inconclusive" (an
interval straddles its gate: the split is too small to tell, and the reason says how many images would
settle it), "failed to load" (corrupted file, wrong labels or input size, a runtime that cannot open
it; verification continues with the next artifact), or "cannot verify" (no runtime here runs it: the
Core ML interpreter lacks one of its ops; not a parity failure, but never a success: the command exits 8). The data:
edgevit/verify/evalset.py;
metrics: edgevit/verify/metrics.py; gates: edgevit/verify/gates.py; what is returned: edgevit/verify/results.py;
JSON, records and the printed table: edgevit/verify/report.py.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from edgevit.config import MANIFEST_NAME
from edgevit.errors import EdgeVitError, ModelError, UsageError
from edgevit.formats import REFERENCE_FORMAT, REFERENCE_RUNTIME, Gate
from edgevit.fsutil import load_json
from edgevit.outputs import GOLDEN, Output, check_outputs
from edgevit.runners import Artifact, CannotVerify, RunnerOptions, open_artifact, runner_for
from edgevit.runners.batching import first_line
from edgevit.verify.evalset import EvalSet, load_eval_set, predict_all, resolve_data_root
from edgevit.verify.gates import Verdict, describe_gate, gate_for, images_to_pass_without_flips, judge, read_gate_overrides, recorded_gates
from edgevit.verify.metrics import abs_errors, accuracy, accuracy_difference, agreement_interval, mean_js_divergence, top1
from edgevit.verify.results import ArtifactParity, DataInfo, Flip, ParityMetrics, ReferenceResult, Status, VerifyReport

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------
# Which artifacts, which reference, which data


def collect_artifact_folders(paths: Iterable[Path | str]) -> list[Path]:
    """Each path is an artifact folder (has manifest.json) or a folder of them (e.g. `edgevit export --out`)."""
    folders: list[Path] = []
    for path in map(Path, paths):
        if (path / MANIFEST_NAME).is_file():
            folders.append(path)
            continue
        if not path.is_dir():
            raise UsageError(f"{path}: no such artifact folder; pass artifact folders or the --out folder of `edgevit export`")
        found = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_NAME).is_file())
        if not found:
            raise UsageError(f"{path}: no artifact folders (sub-folders with {MANIFEST_NAME}) inside; run `edgevit export` first")
        folders.extend(found)
    if not folders:
        raise UsageError("no artifacts to verify; pass artifact folders or the --out folder of `edgevit export`")
    return folders


def resolve_saved_model(folders: list[Path], saved_model: Path | str | None) -> Path:
    """--saved-model, else the one SavedModel every artifact's manifest names as its source."""
    if saved_model is not None:
        return Path(saved_model)
    sources: dict[str, list[str]] = {}
    for folder in folders:
        try:
            manifest = load_json(folder / MANIFEST_NAME)
            source = manifest["source"]["saved_model"] if manifest.get("kind") == "artifact" else str(folder)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable manifests are reported per artifact as "failed to load"
        sources.setdefault(str(Path(source).resolve()), []).append(folder.name)
    if not sources:
        raise UsageError("cannot tell which SavedModel the artifacts came from (no readable manifest names one); pass --saved-model")
    if len(sources) > 1:
        listing = "; ".join(f"{path} ({', '.join(names)})" for path, names in sources.items())
        raise UsageError(f"the artifacts come from different SavedModels: {listing}; verify them separately or pass --saved-model")
    return Path(next(iter(sources)))


# ------------------------------------------------------------------------------------------------
# Running


def compute_metrics(reference: np.ndarray, artifact: np.ndarray, evalset: EvalSet) -> ParityMetrics:
    ref_top, art_top = top1(reference), top1(artifact)
    labels = evalset.labels
    names = evalset.label_names
    flips = tuple(
        Flip(str(evalset.paths[i]), names[labels[i]], names[ref_top[i]], names[art_top[i]]) for i in np.flatnonzero(ref_top != art_top)
    )
    max_abs, mean_abs = abs_errors(reference, artifact)
    return ParityMetrics(
        count=len(labels),
        accuracy=accuracy(art_top, labels),
        reference_accuracy=accuracy(ref_top, labels),
        difference=accuracy_difference(ref_top == labels, art_top == labels),
        agreement_ci=agreement_interval(ref_top, art_top),
        flips=flips,
        max_abs_error=max_abs,
        mean_abs_error=mean_abs,
        mean_js_divergence=mean_js_divergence(reference, artifact),
        non_finite=int(np.size(artifact) - np.count_nonzero(np.isfinite(artifact))),
    )


def _pre_checks(artifact: Artifact, reference: Artifact, fingerprint: str) -> None:
    """What makes a comparison meaningless, found before running anything (ModelError: "failed to load")."""
    if artifact.labels != reference.labels:
        ours, theirs = artifact.labels, reference.labels
        if len(ours) != len(theirs):
            detail = f"{len(ours)} labels, the SavedModel has {len(theirs)}"
        else:
            i = next(k for k, (x, y) in enumerate(zip(ours, theirs)) if x != y)
            detail = f"label #{i} is {ours[i]!r}, the SavedModel's is {theirs[i]!r}"
        raise ModelError(f"its label list differs from the SavedModel's ({detail}); re-export it from this SavedModel")
    size, spec = artifact.input_size, artifact.preprocessing
    if size != (spec.height, spec.width):
        raise ModelError(f"its input is {size[0]}x{size[1]} but its manifest's preprocessing makes {spec.height}x{spec.width} images; re-export it")
    if size != reference.input_size:
        raise ModelError(
            f"its input is {size[0]}x{size[1]}, the SavedModel's is {reference.input_size[0]}x{reference.input_size[1]}; "
            "it was exported from another model: pass its own --saved-model"
        )
    if artifact.format != REFERENCE_FORMAT:
        source = (artifact.manifest.get("source") or {}).get("fingerprint")
        if source != fingerprint:
            raise ModelError(
                f"it was exported from another SavedModel (fingerprint {str(source)[:12]}..., this one is {fingerprint[:12]}...); "
                "pass its own --saved-model"
            )


def _preprocessing_note(artifact: Artifact, reference: Artifact) -> str | None:
    ours, theirs = artifact.preprocessing, reference.preprocessing
    if ours == theirs:
        return None
    diffs = [f"{key} {getattr(ours, key)} vs {getattr(theirs, key)}"
             for key in ("mean", "std", "resize", "color", "layout") if getattr(ours, key) != getattr(theirs, key)]
    return f"its manifest's preprocessing differs from the SavedModel's ({'; '.join(diffs)})"


def _refuse_the_reference_itself(folders: list[Path], saved_model: Path) -> None:
    """An "artifact" that is the reference SavedModel would only be compared with itself and always pass."""
    for folder in folders:
        if folder.resolve() == Path(saved_model).resolve():
            raise UsageError(f"{folder}: is the reference SavedModel itself, not an artifact; pass the --out folder of "
                             "`edgevit export` or its artifact folders")


def _gates_by_folder(folders: list[Path], recipe: Path | str | None) -> dict[Path, Gate]:
    """Each artifact's gate: the recipe's when one is given, else the one recorded when it was exported
    (artifacts.json), else its mode's default. Resolved before any model runs: a missing gate is a usage error."""
    overrides = read_gate_overrides(recipe)
    if overrides:
        logger.debug(f"gates from {recipe}: {overrides}")
    gates = {}
    for folder in folders:
        try:
            artifact = open_artifact(folder, check_integrity=False)
        except EdgeVitError:
            continue  # reported as "failed to load" when its turn comes
        these, origin = (overrides, "recipe") if recipe is not None else recorded_gates(folder, artifact.manifest)
        gates[folder] = gate_for(artifact.name, artifact.format, artifact.quantization, these, origin=origin)
        logger.debug(f"gate of {artifact.name}: {gates[folder].to_dict()}")
    return gates


_STATUS = {Verdict.PASS: Status.PASSED, Verdict.FAIL: Status.PARITY_FAILED, Verdict.INCONCLUSIVE: Status.INCONCLUSIVE}


def resolution_warnings(gates: dict[Path, Gate], count: int, max_images: int | None) -> list[str]:
    """One line per gate that `count` images cannot show passed even with no image flipped."""
    lines = []
    for folder, gate in gates.items():
        needed = images_to_pass_without_flips(gate)
        if needed > count:
            lines.append(f"{folder.name}: {count} images cannot show its gate ({describe_gate(gate)}) passed even with 0 flips; "
                         f"it needs at least {needed:,}" + (" (--max-images limits the split)" if max_images else ""))
    return lines


def _verify_one(
    folder: Path,
    *,
    reference: Artifact,
    fingerprint: str,
    ref_probs: np.ndarray,
    evalset: EvalSet,
    gate: Gate | None,
    options: RunnerOptions,
    runtimes: dict[str, str],
) -> ArtifactParity:
    try:
        artifact = open_artifact(folder)
    except EdgeVitError as exc:
        return ArtifactParity(folder.name, folder, None, None, Status.FAILED_TO_LOAD, str(exc))
    base = dict(name=artifact.name, folder=folder, format=artifact.format, quantization=artifact.quantization, manifest=artifact.manifest)
    if gate is None:  # its manifest could not be read when the gates were resolved, but can now
        gate = gate_for(artifact.name, artifact.format, artifact.quantization, {})
    runner = None
    try:
        _pre_checks(artifact, reference, fingerprint)
        runner = runner_for(artifact, runtime=runtimes.get(artifact.format), options=options)
        probs, seconds = predict_all(runner, evalset, artifact.preprocessing)
    except CannotVerify as exc:  # the artifact may be fine; nothing here can run it
        return ArtifactParity(**base, status=Status.CANNOT_VERIFY, reason=str(exc), gate=gate, runner=getattr(runner, "info", None))
    except EdgeVitError as exc:
        return ArtifactParity(**base, status=Status.FAILED_TO_LOAD, reason=str(exc), gate=gate, runner=getattr(runner, "info", None))
    except Exception as exc:  # a runtime crashing on the model (ORT/LiteRT raise their own types)
        reason = f"{type(exc).__name__} while running it: {first_line(exc)}"
        return ArtifactParity(**base, status=Status.FAILED_TO_LOAD, reason=reason, gate=gate, runner=getattr(runner, "info", None))
    finally:
        if runner is not None:
            runner.close()
    metrics = compute_metrics(ref_probs, probs, evalset)
    judgement = judge(gate, agreement=metrics.agreement_ci, difference=metrics.difference,
                      max_abs_error=metrics.max_abs_error, non_finite=metrics.non_finite)
    notes = tuple(n for n in [_preprocessing_note(artifact, reference)] if n)
    status = _STATUS[judgement.verdict]
    failures = [*judgement.failures, *judgement.undecided]
    if judgement.verdict is Verdict.INCONCLUSIVE:
        failures.append(f"about {judgement.images_needed:,} images would settle it at the observed rates"
                        if judgement.images_needed else "more images would not settle it: the observed rate sits on the gate")
    reason = "; ".join([*failures, *notes]) or None
    return ArtifactParity(**base, status=status, reason=reason, gate=gate, failures=tuple(failures), judgement=judgement, metrics=metrics,
                          runner=runner.info, predict_seconds=seconds, notes=notes)


def verify_artifacts(
    artifacts: Iterable[Path | str],
    *,
    saved_model: Path | str | None = None,
    data: Path | str | None = None,
    split: str = "test",
    recipe: Path | str | None = None,
    options: RunnerOptions = RunnerOptions(),
    runtimes: dict[str, str] | None = None,
    max_images: int | None = None,
    golden_dir: Path | str | None = None,
    golden_count: int = 8,
    reference_cache: dict | None = None,
) -> VerifyReport:
    """Verify every artifact (folders, or folders of artifact folders) against the SavedModel.

    runtimes: format -> runtime name (default: each format's default runner; Core ML on Linux is
    the emulated `coreml-mil-numpy`). max_images: an evenly spread subset of the split.
    golden_dir: also write golden vectors (see edgevit/verify/golden.py) of `golden_count` images there.
    Progress is logged (INFO) as each artifact is verified.
    reference_cache: a dict kept across calls (e.g. the steps of a --fit-gate search) that holds the SavedModel's
    outputs per SavedModel fingerprint, data folder, split and image count, so each is run once.
    Raises for problems that concern every artifact (no data, unknown classes, bad recipe);
    per-artifact problems become that artifact's status.
    """
    from edgevit.savedmodel.source import open_source

    started = time.perf_counter()
    if max_images is not None and (isinstance(max_images, bool) or max_images < 1):
        raise UsageError(f"max_images must be a positive integer, got {max_images!r}")
    if isinstance(golden_count, bool) or golden_count < 1:
        raise UsageError(f"golden count must be a positive integer, got {golden_count!r}")
    folders = collect_artifact_folders(artifacts)
    logger.debug(f"artifacts to verify: {', '.join(str(f) for f in folders)}")
    gates = _gates_by_folder(folders, recipe)
    source = open_source(resolve_saved_model(folders, saved_model))
    _refuse_the_reference_itself(folders, source.folder)
    reference = source.artifact()
    fingerprint = source.fingerprint
    root = resolve_data_root(reference, data)
    # Everything this run reads is known now: the golden folder may be none of it (checked before any model runs).
    check_outputs([Output("--write-golden", golden_dir, GOLDEN)], inputs=[*folders, source.folder, root, recipe])
    evalset = load_eval_set(root, split, reference.labels, max_images=max_images)
    logger.info(f"reference: {source.folder} on {root}/{split} ({len(evalset.paths)} images)")
    warnings = resolution_warnings(gates, len(evalset.paths), max_images)
    if len(evalset.paths) < evalset.split_size:
        warnings.insert(0, _resolution_given_up(len(evalset.paths), evalset.split_size))
    for line in warnings:  # before any model runs: the user may stop here and pick a bigger split
        logger.warning(line)

    key = (fingerprint, str(Path(root).resolve()), split, len(evalset.paths), options)
    if reference_cache is not None and key in reference_cache:
        ref_probs, ref_seconds, ref_info = reference_cache[key]
    else:
        ref_runner = runner_for(reference, runtime=REFERENCE_RUNTIME, options=options)
        try:
            ref_probs, ref_seconds = predict_all(ref_runner, evalset, reference.preprocessing)
            ref_info = ref_runner.info
        finally:
            ref_runner.close()
        if reference_cache is not None:
            reference_cache[key] = ref_probs, ref_seconds, ref_info
    ref_result = ReferenceResult(source.folder, fingerprint, accuracy(top1(ref_probs), evalset.labels), ref_info, ref_seconds)

    if golden_dir is not None:
        from edgevit.verify.golden import golden_indices, write_golden

        chosen = golden_indices(len(evalset.paths), golden_count)
        write_golden(golden_dir, inputs=np.concatenate([evalset.inputs(reference.preprocessing, i, i + 1) for i in chosen]),
                     probabilities=ref_probs[chosen], true_labels=evalset.labels[chosen], label_names=reference.labels,
                     preprocessing=reference.preprocessing.to_dict(), fingerprint=fingerprint, runtime=REFERENCE_RUNTIME.value)
        logger.info(f"golden vectors: {len(chosen)} images -> {golden_dir}")

    results = []
    for folder in folders:
        logger.info(f"verifying {folder.name} ...")
        result = _verify_one(folder, reference=reference, fingerprint=fingerprint, ref_probs=ref_probs, evalset=evalset,
                             gate=gates.get(folder), options=options, runtimes=runtimes or {})
        logger.info(f"  {result.name}: {result.status.value}" + (f" ({result.reason})" if result.reason else ""))
        results.append(result)
    data_info = DataInfo(root, split, len(evalset.paths), len(set(evalset.labels.tolist())))
    return VerifyReport(ref_result, data_info, tuple(results), time.perf_counter() - started, tuple(warnings))


def _resolution_given_up(used: int, available: int) -> str:
    """What --max-images costs: the best agreement and accuracy margin a perfect artifact can show."""
    from edgevit.verify.intervals import clopper_pearson, paired_difference_interval

    def best(n: int) -> str:
        return (f"agreement >= {clopper_pearson(n, n)[0]:.2%}, accuracy drop <= {-paired_difference_interval(0, 0, n)[0] * 100:.2f} points")

    return (f"--max-images: {used} of the split's {available} images; with 0 flips that can show at best {best(used)} "
            f"(all {available} images: {best(available)})")
