"""Re-judge earlier `edgevit verify` results with today's intervals and three-valued gates.

    .venv/bin/python benchmarks/rejudge_verify.py RESULTS.json [...] --out benchmarks/results/parity-verdicts-....md

Each input is a verify JSON (`edgevit verify --json`, or a benchmarks/ results file holding one under
"verify"). A verify JSON keeps every count a verdict needs (n, flipped images, images the artifact
fixed and broke, the max abs probability error) and the gate that applied, so the verdict can be
recomputed exactly without running any model: the same numbers, judged by the intervals of
edgevit/verify/intervals.py instead of point estimates. The table shows the old verdict and interval
beside the new ones, and why each changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgevit.formats import Gate  # noqa: E402
from edgevit.verify.gates import Verdict, describe_gate, judge  # noqa: E402
from edgevit.verify.metrics import agreement_from_counts, difference_from_counts  # noqa: E402

OLD_VERDICT = {"passed": "passed", "parity failed": "parity failed", "failed to load": "failed to load"}
NEW_VERDICT = {Verdict.PASS: "passed", Verdict.FAIL: "parity failed", Verdict.INCONCLUSIVE: "inconclusive"}


def _verify_document(path: Path) -> dict:
    document = json.loads(path.read_text())
    return document["verify"] if "verify" in document and "artifacts" not in document else document


def _old_interval(metrics: dict) -> str:
    if "accuracy_difference_ci95_points" not in metrics:
        return "-"
    low, high = metrics["accuracy_difference_ci95_points"]
    return f"{metrics['accuracy_difference_points']:+.2f} [{low:+.2f}, {high:+.2f}]"


def rejudge(artifact: dict) -> dict | None:
    metrics, gate_dict = artifact.get("metrics"), artifact.get("gate")
    if metrics is None or gate_dict is None:
        return None
    n, flips = metrics["count"], metrics["flip_count"]
    gate = Gate(**{k: gate_dict[k] for k in ("min_agreement", "max_accuracy_drop", "max_abs_error") if k in gate_dict})
    agreement = agreement_from_counts(n - flips, n)
    difference = difference_from_counts(metrics["improved"], metrics["worsened"], n)
    judgement = judge(gate, agreement=agreement, difference=difference, max_abs_error=metrics["max_abs_error"],
                      non_finite=metrics.get("non_finite", 0))
    new = NEW_VERDICT[judgement.verdict]
    judged_by_old_rules = "ci_method" in metrics  # written before the intervals changed (paired bootstrap)
    old = OLD_VERDICT.get(artifact["status"], artifact["status"]) if judged_by_old_rules else "(already the new rules)"
    if not judged_by_old_rules:
        why = {"passed": "every interval clears the gate", "parity failed": "an interval lies wholly beyond the gate",
               "inconclusive": "; ".join(judgement.undecided)}[new]
    elif new == old:
        why = "unchanged: " + ("the whole interval clears the gate" if new == "passed" else
                               "the whole interval lies beyond the gate" if new == "parity failed" else "")
    elif new == "inconclusive":
        why = "the point estimate met the gate, but the 95% interval straddles it: " + "; ".join(judgement.undecided)
    else:
        why = "; ".join(judgement.failures or judgement.undecided)
    needed = judgement.images_needed
    return {
        "name": artifact["name"], "n": n, "flips": flips, "gate": describe_gate(gate), "gate_source": gate_dict.get("source"),
        "old_verdict": old, "old_interval": _old_interval(metrics),
        "new_verdict": new, "new_interval": f"{difference.points:+.2f} [{difference.low:+.2f}, {difference.high:+.2f}]",
        "agreement": f"{agreement.fraction:.2%} [{agreement.low:.2%}, {agreement.high:.2%}]",
        "mcnemar_p": difference.mcnemar_p, "images_needed": needed, "why": why,
    }


def render(rows_by_source: dict[str, list[dict]]) -> str:
    lines = ["| source | artifact | n | flips | gate | before: verdict, Δ acc [95% bootstrap] | after: verdict | "
             "after: Δ acc [95% Tango] | after: agreement [95% exact] | McNemar p | images to settle |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for source, rows in rows_by_source.items():
        for r in rows:
            needed = "-" if r["new_verdict"] != "inconclusive" else (f"{r['images_needed']:,}" if r["images_needed"] else "no number")
            changed = "**" if r["new_verdict"] != r["old_verdict"] and not r["old_verdict"].startswith("(") else ""
            lines.append(f"| {source} | {r['name']} | {r['n']} | {r['flips']} | {r['gate']} | {r['old_verdict']}, {r['old_interval']} "
                         f"| {changed}{r['new_verdict']}{changed} | {r['new_interval']} | {r['agreement']} | {r['mcnemar_p']:.3g} | {needed} |")
    lines += ["", "Why each verdict is what it is now:", ""]
    for source, rows in rows_by_source.items():
        lines += [f"- {source} / {r['name']}: {r['why']}" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+", metavar="LABEL=VERIFY_JSON", help="verify results, each with a label for the table")
    p.add_argument("--out", help="write the Markdown table here (default: print it)")
    args = p.parse_args(argv)
    rows_by_source = {}
    for item in args.inputs:
        label, _, path = item.rpartition("=")
        document = _verify_document(Path(path))
        rows_by_source[label or path] = [r for r in map(rejudge, document["artifacts"]) if r is not None]
    text = render(rows_by_source)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
