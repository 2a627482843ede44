"""Parity gates: the tolerances each quantization mode must meet, overridable per artifact.

The default gate of each mode is a row of edgevit.formats (Gate says what its three numbers mean). A
recipe TOML overrides them per artifact name:

    [gates.tflite-int8]
    min_agreement = 0.99
    max_accuracy_drop = 0.5

`edgevit export --recipe` records each artifact's gates in OUT/artifacts.json, so the gates travel
with the artifacts: verify without --recipe judges each artifact by the gates it was exported with
(`recorded_gates`), and by the mode's default where none were recorded.

`judge` applies a gate with three outcomes. Agreement and accuracy are estimates from a finite split,
so each limit is held against the interval of its estimate (edgevit/verify/intervals.py): pass when
the interval clears the limit, fail when it lies wholly beyond it, inconclusive otherwise, with the
number of images that would settle it.
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from edgevit.errors import UsageError
from edgevit.fsutil import BadJson, load_json
from edgevit.formats import GATE_KEYS, Gate, find_mode, mode_names
from edgevit.verify.intervals import CONFIDENCE, clopper_pearson, paired_difference_interval
from edgevit.verify.metrics import AccuracyDifference, Agreement


def default_gate(fmt: str, quantization: str) -> Gate | None:
    """The table's gate of `fmt`/`quantization` (edgevit.formats), None for a mode it does not know."""
    mode = find_mode(fmt, quantization)
    return replace(mode.gate, source=f"default for {fmt}/{quantization}") if mode else None


def gate_for(name: str, fmt: str, quantization: str, overrides: dict[str, dict], *, origin: str = "recipe") -> Gate:
    """The default gate of the artifact's mode with `overrides[name]` on top; `origin` says where those
    came from in the gate's source ("recipe", or the artifacts.json they were recorded in)."""
    base = default_gate(fmt, quantization)
    override = overrides.get(name)
    if override is None:
        if base is None:
            known = ", ".join(mode_names())
            raise UsageError(f"{name}: no parity gate for {fmt}/{quantization} (known: {known}); add [gates.{name}] to a --recipe")
        return base
    return replace(base or Gate(), **override, source=f"{origin} [gates.{name}]" + (f" over {base.source}" if base else ""))


def recorded_gates(artifact: Path, manifest: dict) -> tuple[dict[str, dict], str]:
    """({name: gate values}, origin) that `edgevit export` recorded for `artifact` in its folder's
    artifacts.json; ({}, "") when none were, or when the entry no longer describes this artifact (its
    sha256 or size differs from the manifest's: rebuilt or replaced since; a .mlpackage folder has no
    sha256, only its size). Bad values are a UsageError naming the file."""
    from edgevit.outputs import ARTIFACTS_INDEX

    index_path = Path(artifact).parent / ARTIFACTS_INDEX
    try:
        index = load_json(index_path)
    except (OSError, BadJson):
        return {}, ""
    entries = index.get("artifacts") if isinstance(index, dict) else None
    name = Path(artifact).name
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name and entry.get("gates") is not None:
            if (entry.get("sha256"), entry.get("file_size")) != (manifest.get("sha256"), manifest.get("file_size")):
                return {}, ""
            recipe = (index.get("recipe") or {}).get("name") if isinstance(index.get("recipe"), dict) else None
            origin = f"recorded at export in {index_path}" + (f" (recipe {recipe})" if recipe else "")
            return {name: _check_override(index_path, name, entry["gates"])}, origin
    return {}, ""


def read_gate_overrides(recipe: Path | str | None) -> dict[str, dict]:
    """`[gates.<artifact-name>]` tables of a recipe TOML, checked; {} without a recipe."""
    if recipe is None:
        return {}
    path = Path(recipe)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: recipe not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    gates = document.get("gates", {})
    if not isinstance(gates, dict):
        raise UsageError(f"{path}: 'gates' must be a table of [gates.<artifact-name>] tables")
    return {name: _check_override(path, name, table) for name, table in gates.items()}


def _check_override(path: Path, name: str, table) -> dict:
    where = f"{path}: [gates.{name}]"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table with keys {', '.join(GATE_KEYS)}")
    unknown = sorted(set(table) - set(GATE_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(GATE_KEYS)}")
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UsageError(f"{where}: {key} must be a non-negative number, got {value!r}")
        if key == "min_agreement" and value > 1:
            raise UsageError(f"{where}: min_agreement is a fraction from 0 to 1, got {value!r}")
    return {key: float(value) for key, value in table.items()}


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Judgement:
    """A gate applied to one artifact's metrics: the verdict and one line per limit not cleared.

    failures: limits the measurement lies wholly on the wrong side of. undecided: limits whose interval
    straddles them. images_needed: for an inconclusive verdict, about how many images would settle it if
    the observed rates held (None where more images would not: the observed rate sits on the limit).
    """

    verdict: Verdict
    failures: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()
    images_needed: int | None = None


_MOST_IMAGES = 10_000_000  # beyond this, "more images" is no answer


def describe_gate(gate: Gate) -> str:
    """The gate as users mean it: 'top-1 agreement at least 99.5% and accuracy at most 0.3 points lower, 95% confidence'."""
    parts = []
    if gate.min_agreement is not None:
        parts.append(f"top-1 agreement at least {gate.min_agreement:.2%}")
    if gate.max_accuracy_drop is not None:
        points = "point" if gate.max_accuracy_drop == 1 else "points"
        parts.append(f"accuracy at most {gate.max_accuracy_drop:g} {points} lower")
    statistical = bool(parts)
    if gate.max_abs_error is not None:
        parts.append(f"every probability within {gate.max_abs_error:g}")
    text = " and ".join(parts) or "no limits"
    return text + (f" ({CONFIDENCE:.0%} confidence)" if statistical else "")


def looser_than_default(gate: Gate, fmt: str | None, quantization: str | None) -> list[str]:
    """The limits of `gate` that are looser than its mode's default, as 'min_agreement 0.98 < 0.995'."""
    base = default_gate(fmt, quantization) if fmt and quantization else None
    if base is None:
        return []
    looser = []
    for key, value in gate.limits().items():
        default = getattr(base, key)
        if default is not None and (value < default if key == "min_agreement" else value > default):
            looser.append(f"{key} {value:g} (default {default:g})")
    return looser


def _agreement_verdict(agreeing: int, count: int, limit: float) -> Verdict:
    low, high = clopper_pearson(agreeing, count)
    return Verdict.PASS if low >= limit else Verdict.FAIL if high < limit else Verdict.INCONCLUSIVE


def _drop_verdict(improved: int, worsened: int, count: int, max_drop_points: float) -> Verdict:
    low, high = paired_difference_interval(improved, worsened, count)
    margin = -max_drop_points / 100.0
    return Verdict.PASS if low >= margin else Verdict.FAIL if high < margin else Verdict.INCONCLUSIVE


def _smallest_deciding(count: int, decides) -> int | None:
    """The smallest n > count with decides(n), searched by doubling then bisection (None past _MOST_IMAGES)."""
    high = count * 2 or 1
    while not decides(high):
        if high >= _MOST_IMAGES:
            return None
        high *= 2
    low = max(count, high // 2)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if decides(middle) else (middle, high)
    return high


def images_to_settle(gate: Gate, *, agreeing: int, improved: int, worsened: int, count: int) -> int | None:
    """About how many images would turn an inconclusive verdict into pass or fail at the observed rates."""
    needed = []

    def scaled(k: int, n: int) -> int:
        return min(n, round(k * n / count))

    if gate.min_agreement is not None and _agreement_verdict(agreeing, count, gate.min_agreement) is Verdict.INCONCLUSIVE:
        needed.append(_smallest_deciding(count, lambda n: _agreement_verdict(
            n - scaled(count - agreeing, n), n, gate.min_agreement) is not Verdict.INCONCLUSIVE))
    if gate.max_accuracy_drop is not None and _drop_verdict(improved, worsened, count, gate.max_accuracy_drop) is Verdict.INCONCLUSIVE:
        needed.append(_smallest_deciding(count, lambda n: _drop_verdict(
            scaled(improved, n), scaled(worsened, n), n, gate.max_accuracy_drop) is not Verdict.INCONCLUSIVE))
    return None if not needed or None in needed else max(needed)


def images_to_pass_without_flips(gate: Gate) -> int:
    """The fewest images on which an artifact that flips and worsens none can pass the gate: a split any
    smaller cannot show a pass, however good the artifact. 0 for a gate with no statistical limit."""
    if gate.min_agreement is None and gate.max_accuracy_drop is None:
        return 0

    def passes(n: int) -> bool:
        ok = gate.min_agreement is None or _agreement_verdict(n, n, gate.min_agreement) is Verdict.PASS
        return ok and (gate.max_accuracy_drop is None or _drop_verdict(0, 0, n, gate.max_accuracy_drop) is Verdict.PASS)

    if passes(1):
        return 1
    found = _smallest_deciding(1, passes)
    return found if found is not None else _MOST_IMAGES


def judge(gate: Gate, *, agreement: Agreement, difference: AccuracyDifference, max_abs_error: float,
          non_finite: int = 0) -> Judgement:
    """Apply `gate`: pass when every interval clears its limit, fail when one lies wholly beyond it,
    inconclusive otherwise. max_abs_error is a measured maximum, not an estimate: it passes or fails."""
    failures, undecided = [], []
    n = agreement.count
    if non_finite:
        failures.append(f"{non_finite} output probabilities are NaN or infinite")
    if gate.min_agreement is not None:
        limit = gate.min_agreement
        flips = n - agreement.agreeing
        measured = (f"top-1 agreement {agreement.fraction:.2%} [{agreement.low:.2%}, {agreement.high:.2%}] "
                    f"({flips} of {n} images flipped)")
        verdict = _agreement_verdict(agreement.agreeing, n, limit)
        if verdict is Verdict.FAIL:
            failures.append(f"{measured} is below the gate's {limit:.2%} at {agreement.confidence:.0%} confidence")
        elif verdict is Verdict.INCONCLUSIVE:
            undecided.append(f"{measured}: the gate's {limit:.2%} lies inside the {agreement.confidence:.0%} interval")
    if gate.max_accuracy_drop is not None:
        limit = gate.max_accuracy_drop
        d = difference
        measured = (f"accuracy difference {d.points:+.2f} points [{d.low:+.2f}, {d.high:+.2f}] "
                    f"({d.worsened} images worse, {d.improved} better, exact McNemar p = {d.mcnemar_p:.3g})")
        verdict = _drop_verdict(d.improved, d.worsened, d.count, limit)
        if verdict is Verdict.FAIL:
            failures.append(f"{measured} is more than the gate's {limit:g} points lower at {d.confidence:.0%} confidence")
        elif verdict is Verdict.INCONCLUSIVE:
            undecided.append(f"{measured}: the gate's -{limit:g} {'point' if limit == 1 else 'points'} lies inside the "
                             f"{d.confidence:.0%} interval")
    if gate.max_abs_error is not None and not max_abs_error <= gate.max_abs_error:  # NaN fails too
        failures.append(f"max abs probability error {max_abs_error:.3g} exceeds the gate's {gate.max_abs_error:.3g} "
                        f"by {max_abs_error - gate.max_abs_error:.3g}")
    if failures:
        return Judgement(Verdict.FAIL, tuple(failures), tuple(undecided))
    if undecided:
        needed = images_to_settle(gate, agreeing=agreement.agreeing, improved=difference.improved,
                                  worsened=difference.worsened, count=n)
        return Judgement(Verdict.INCONCLUSIVE, (), tuple(undecided), needed)
    return Judgement(Verdict.PASS)
