"""A verify report as JSON (every number and flipped image), record-v1 records, a printed table, an exit error."""

from __future__ import annotations

import math

from edgevit.errors import EdgeVitError, ModelError
from edgevit.formats import REFERENCE_RUNTIME
from edgevit.runners import RunnerInfo
from edgevit.verify.results import ArtifactParity, Status, VerifyReport

SHOWN_FLIPS = 5  # per artifact in the printed table; the JSON lists every one


def _number(value: float | None, digits: int = 6):
    """JSON-safe float: NaN/inf become None (json would write invalid tokens)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits) if digits is not None else float(value)


def _runner_dict(info: RunnerInfo | None) -> dict | None:
    if info is None:
        return None
    return {"name": info.runtime, "version": info.version, "device": info.device, "threads": info.threads,
            "emulated": info.emulated, "details": info.details}


def result_to_dict(result: ArtifactParity) -> dict:
    m = result.metrics
    return {
        "name": result.name,
        "folder": str(result.folder),
        "format": result.format,
        "quantization": result.quantization,
        "status": result.status.value,
        "reason": result.reason,
        "runtime": _runner_dict(result.runner),
        "emulated": result.emulated,
        "gate": result.gate.to_dict() if result.gate else None,
        "failures": list(result.failures),
        "notes": list(result.notes),
        "predict_seconds": _number(result.predict_seconds, 3),
        "metrics": None if m is None else {
            "count": m.count,
            "accuracy": _number(m.accuracy),
            "reference_accuracy": _number(m.reference_accuracy),
            "accuracy_difference_points": _number(m.difference.points, 4),
            "accuracy_difference_ci95_points": [_number(m.difference.low, 4), _number(m.difference.high, 4)],
            "ci_method": "paired bootstrap, 10,000 resamples, seed 0",
            "improved": m.difference.improved,
            "worsened": m.difference.worsened,
            "mcnemar_exact_p": _number(m.difference.mcnemar_p),
            "agreement": _number(m.agreement),
            "flip_count": len(m.flips),
            "flips": [{"path": f.path, "true_label": f.true_label, "reference": f.reference, "artifact": f.artifact} for f in m.flips],
            "max_abs_error": _number(m.max_abs_error, 9),
            "mean_abs_error": _number(m.mean_abs_error, 9),
            "mean_kl_divergence": _number(m.mean_kl_divergence, 9),
            "non_finite": m.non_finite,
        },
    }


def report_to_dict(report: VerifyReport) -> dict:
    from edgevit.manifest import now_iso, tool_versions

    ref = report.reference
    return {
        "schema_version": 1,
        "kind": "verify",
        "created": now_iso(),
        "passed": report.passed,
        "reference": {"saved_model": str(ref.saved_model), "fingerprint": ref.fingerprint, "runtime": _runner_dict(ref.runner),
                      "accuracy": _number(ref.accuracy), "predict_seconds": _number(ref.predict_seconds, 3)},
        "data": {"root": str(report.data.root), "split": report.data.split, "count": report.data.count, "classes": report.data.classes},
        "artifacts": [result_to_dict(r) for r in report.results],
        "seconds": round(report.seconds, 2),
        "tool_versions": tool_versions(),
    }


_RECORD_STATUS = {Status.PASSED: "ok", Status.PARITY_FAILED: "parity failed", Status.FAILED_TO_LOAD: "failed",
                  Status.CANNOT_VERIFY: "cannot verify"}


def result_to_record(result: ArtifactParity, report: VerifyReport, *, machine: dict, versions: dict) -> dict:
    """One record-v1 "verify" record (edgevit/records.py) for bench and report to attach."""
    from edgevit.records import artifact_block, new_record

    artifact = None
    if result.format is not None:  # the format and quantization verify read (a SavedModel's manifest names neither)
        artifact = artifact_block({**result.manifest, "format": result.format, "quantization": result.quantization}, name=result.name)
    m = result.metrics
    parity = None
    if m is not None:
        parity = {"reference": REFERENCE_RUNTIME.value, "split": report.data.split, "count": m.count, "accuracy": _number(m.accuracy),
                  "reference_accuracy": _number(m.reference_accuracy), "agreement": m.agreement, "flips": len(m.flips),
                  "max_abs_diff": _number(m.max_abs_error, 9), "passed": result.passed,
                  "gate": result.gate.to_dict() if result.gate else None}
    runtime = _runner_dict(result.runner)
    return new_record(kind="verify", status=_RECORD_STATUS[result.status], reason=result.reason if not result.passed else None,
                      machine=machine, tool_versions=versions, producer="edgevit verify", artifact=artifact,
                      runtime=runtime, parity=parity, notes="; ".join(result.notes) or None)


def report_to_records(report: VerifyReport) -> list[dict]:
    from edgevit.portable.machine import fingerprint as machine_fingerprint
    from edgevit.manifest import tool_versions

    machine, versions = machine_fingerprint(), tool_versions()
    return [result_to_record(r, report, machine=machine, versions=versions) for r in report.results]


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2%}"


def format_table(report: VerifyReport) -> str:
    """The report as a Markdown table plus a legend and one line per artifact that did not pass."""
    ref, data = report.reference, report.data
    lines = [
        f"reference: SavedModel {ref.saved_model} ({ref.runner.runtime} {ref.runner.version}, {ref.runner.device}), "
        f"top-1 accuracy {ref.accuracy:.2%} on {data.root}/{data.split}: {data.count} images, {data.classes} classes; "
        f"predict {ref.predict_seconds:.2f} s",
        "",
        "| artifact | runtime | status | top-1 acc | Δ acc, points [95% CI] | agreement | flips | max abs Δp | mean abs Δp | KL | predict s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        runtime = "-" if r.runner is None else r.runner.runtime + (" (emulated)" if r.runner.emulated else "")
        m = r.metrics
        if m is None:
            cells = ["-"] * 7
        else:
            d = m.difference
            cells = [_pct(m.accuracy), f"{d.points:+.2f} [{d.low:+.2f}, {d.high:+.2f}]", _pct(m.agreement), str(len(m.flips)),
                     f"{m.max_abs_error:.2e}", f"{m.mean_abs_error:.2e}", f"{m.mean_kl_divergence:.2e}"]
        seconds = "-" if r.predict_seconds is None else f"{r.predict_seconds:.2f}"
        lines.append(f"| {r.name} | {runtime} | {r.status.value} | " + " | ".join(cells) + f" | {seconds} |")
    lines += [
        "",
        "Δ acc: artifact minus SavedModel top-1 accuracy, percentage points, 95% paired-bootstrap interval; agreement: same "
        "top-1 class as the SavedModel; flips: images whose top-1 class changed; Δp: probability difference over every "
        "image and class; KL: mean KL(SavedModel || artifact) in nats; predict s: wall seconds of the runtime's predict "
        f"calls over the {data.count} images. (emulated): Core ML's program run by the numpy MIL interpreter, not Core ML.",
    ]
    gated = [r for r in report.results if r.gate is not None]
    if gated:
        lines += ["", "Gates (what each artifact had to meet, and where the numbers came from):"]
        lines += [f"- {r.name}: " + ", ".join(f"{k} {v:g}" for k, v in r.gate.limits().items()) + f" ({r.gate.source})" for r in gated]
    problems = [r for r in report.results if not r.passed or r.notes]
    if problems:
        lines.append("")
        lines += [f"- {r.name}: {r.status.value}" + (f": {r.reason}" if r.reason else "") for r in problems]
    flipped = [r for r in report.results if r.metrics and r.metrics.flips]
    if flipped:
        lines += ["", f"Flipped images (true label: SavedModel -> artifact; first {SHOWN_FLIPS} per artifact, all of them in --json):"]
        for r in flipped:
            shown = r.metrics.flips[:SHOWN_FLIPS]
            more = len(r.metrics.flips) - len(shown)
            lines += [f"- {r.name}: {f.path} ({f.true_label}: {f.reference} -> {f.artifact})" for f in shown]
            if more:
                lines.append(f"- {r.name}: ... and {more} more")
    return "\n".join(lines)


def summary_error(report: VerifyReport) -> EdgeVitError | None:
    """The error a command exits with when some artifact did not pass (ParityError wins over a load failure)."""
    from edgevit.errors import ParityError

    failed = [r for r in report.results if not r.passed and r.status is not Status.CANNOT_VERIFY]
    if not failed:
        return None
    listing = "; ".join(f"{r.name} ({r.status.value}: {r.reason})" for r in failed)
    message = f"{len(failed)} of {len(report.results)} artifact(s) did not pass: {listing}"
    return ParityError(message) if report.by_status(Status.PARITY_FAILED) else ModelError(message)
