"""A verify report as JSON (every number and flipped image), record-v1 records, a printed table, an exit error."""

from __future__ import annotations

import math

from edgevit.errors import EdgeVitError, InconclusiveError, ModelError
from edgevit.formats import REFERENCE_RUNTIME, Gate
from edgevit.runners import RunnerInfo
from edgevit.verify.gates import describe_gate, looser_than_default
from edgevit.verify.intervals import AGREEMENT_METHOD, clopper_pearson
from edgevit.verify.metrics import DIVERGENCE_METHOD
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
        "gate": _gate_dict(result),
        "verdict": result.judgement.verdict.value if result.judgement else None,
        "images_needed": result.judgement.images_needed if result.judgement else None,
        "failures": list(result.failures),
        "notes": list(result.notes),
        "predict_seconds": _number(result.predict_seconds, 3),
        "metrics": None if m is None else {
            "count": m.count,
            "accuracy": _number(m.accuracy),
            "reference_accuracy": _number(m.reference_accuracy),
            "accuracy_difference_points": _number(m.difference.points, 4),
            "accuracy_difference_ci_points": [_number(m.difference.low, 4), _number(m.difference.high, 4)],
            "accuracy_difference_method": m.difference.method,
            "improved": m.difference.improved,
            "worsened": m.difference.worsened,
            "mcnemar_exact_p": _number(m.difference.mcnemar_p),
            "agreement": _number(m.agreement),
            "agreement_ci": [_number(m.agreement_ci.low), _number(m.agreement_ci.high)],
            "agreement_method": m.agreement_ci.method,
            "confidence": m.agreement_ci.confidence,
            "flip_count": len(m.flips),
            "flips": [{"path": f.path, "true_label": f.true_label, "reference": f.reference, "artifact": f.artifact} for f in m.flips],
            "max_abs_error": _number(m.max_abs_error, 9),
            "mean_abs_error": _number(m.mean_abs_error, 9),
            "mean_js_divergence_bits": _number(m.mean_js_divergence, 9),
            "divergence_method": DIVERGENCE_METHOD,
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
        "warnings": list(report.warnings),
        "seconds": round(report.seconds, 2),
        "tool_versions": tool_versions(),
    }


_RECORD_STATUS = {Status.PASSED: "ok", Status.PARITY_FAILED: "parity failed", Status.INCONCLUSIVE: "parity inconclusive",
                  Status.FAILED_TO_LOAD: "failed", Status.CANNOT_VERIFY: "cannot verify"}


def _gate_dict(result: ArtifactParity) -> dict | None:
    """The gate's limits, where they came from, how users read it, and any limit looser than the mode's default."""
    gate: Gate | None = result.gate
    if gate is None:
        return None
    looser = looser_than_default(gate, result.format, result.quantization)
    return {**gate.to_dict(), "meaning": describe_gate(gate), "looser_than_default": looser or None}


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
                  "verdict": result.judgement.verdict.value if result.judgement else None,
                  "accuracy_ci": [_number(v) for v in clopper_pearson(round(m.accuracy * m.count), m.count)],
                  "agreement_ci": [_number(m.agreement_ci.low), _number(m.agreement_ci.high)],
                  "accuracy_difference_points": _number(m.difference.points, 4),
                  "accuracy_difference_ci_points": [_number(m.difference.low, 4), _number(m.difference.high, 4)],
                  "interval_methods": {"accuracy": AGREEMENT_METHOD, "agreement": m.agreement_ci.method,
                                       "accuracy_difference": m.difference.method},
                  "source": "edgevit verify",
                  "gate": _gate_dict(result)}
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
        "| artifact | runtime | verdict | n | top-1 acc | Δ acc, points [95% CI] | McNemar p | agreement [95% CI] | flips "
        "| max abs Δp | JS, bits | predict s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        runtime = "-" if r.runner is None else r.runner.runtime + (" (emulated)" if r.runner.emulated else "")
        m = r.metrics
        if m is None:
            cells = ["-"] * 8
        else:
            d, a = m.difference, m.agreement_ci
            cells = [str(m.count), _pct(m.accuracy), f"{d.points:+.2f} [{d.low:+.2f}, {d.high:+.2f}]", f"{d.mcnemar_p:.3g}",
                     f"{_pct(m.agreement)} [{a.low:.2%}, {a.high:.2%}]", str(len(m.flips)),
                     f"{m.max_abs_error:.2e}", f"{m.mean_js_divergence:.2e}"]
        seconds = "-" if r.predict_seconds is None else f"{r.predict_seconds:.2f}"
        lines.append(f"| {r.name} | {runtime} | {r.status.value} | " + " | ".join(cells) + f" | {seconds} |")
    first = next((r.metrics for r in report.results if r.metrics), None)
    methods = "" if first is None else f" ({first.difference.method}); agreement interval: {first.agreement_ci.method}"
    lines += [
        "",
        f"n: images compared; Δ acc: artifact minus SavedModel top-1 accuracy, percentage points, 95% interval{methods}; "
        "McNemar p: exact two-sided test of the discordant images; agreement: same top-1 class as the SavedModel; "
        "flips: images whose top-1 class changed; Δp: probability difference over every image and class; "
        f"JS: {DIVERGENCE_METHOD}; predict s: wall seconds of the runtime's predict calls over the {data.count} images. "
        "(emulated): Core ML's program run by the numpy MIL interpreter, not Core ML. Verdict: passed when every 95% "
        "interval clears its gate, parity failed when one lies wholly beyond it, inconclusive otherwise.",
    ]
    gated = [r for r in report.results if r.gate is not None]
    if gated:
        lines += ["", "Gates (what each artifact had to meet, and where the numbers came from):"]
        for r in gated:
            looser = looser_than_default(r.gate, r.format, r.quantization)
            lines.append(f"- {r.name}: {describe_gate(r.gate)}; from {r.gate.source}"
                         + (f"; looser than the default: {', '.join(looser)}" if looser else ""))
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
    """The error a command exits with when some artifact did not pass: ParityError (6) wins over a load
    failure (4), which wins over a verdict nothing here could reach (8: inconclusive, or an artifact no runtime here
    can run: unverified is not verified, so it is never a silent success)."""
    from edgevit.errors import ParityError

    failed = [r for r in report.results if not r.passed]
    if not failed:
        return None
    listing = "; ".join(f"{r.name} ({r.status.value}: {r.reason})" for r in failed)
    message = f"{len(failed)} of {len(report.results)} artifact(s) did not pass: {listing}"
    if report.by_status(Status.PARITY_FAILED):
        return ParityError(message)
    if report.by_status(Status.FAILED_TO_LOAD):
        return ModelError(message)
    return InconclusiveError(message)
