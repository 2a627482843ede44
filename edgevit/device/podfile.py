"""What the iOS app is built with, read from its Podfile, and whether an artifact can run in it.

The app links the TensorFlowLiteSwift pod its Podfile pins and runs on the iOS its `platform` line
names. A .tflite whose ops need a newer TFLite runtime than the oldest pod the pin allows fails to load
on the phone ("Didn't find op for builtin opcode ... version ..."); ios-sync refuses it here instead,
with one line saying what to do. Only the two lines ios-sync needs are read; CocoaPods itself is not
available here (and needs Ruby), so this is the small reader, not a Podfile evaluator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgevit.compat import is_newer, ops_needing_newer, parse_version, version_text
from edgevit.errors import UsageError

TFLITE_POD = "TensorFlowLiteSwift"
# The newest TensorFlowLiteSwift release published on CocoaPods (later TFLite releases ship no pod).
LAST_TFLITE_POD = "2.17.0"

_POD = re.compile(r"""^\s*pod\s+['"]%s['"]\s*(?:,\s*['"]([^'"]*)['"])?""" % TFLITE_POD, re.MULTILINE)
_PLATFORM = re.compile(r"""^\s*platform\s+:ios\s*,\s*['"]([^'"]+)['"]""", re.MULTILINE)
# A requirement whose lowest allowed version is the one it names ('~> 2.14', '>= 2.14', '= 2.14', '2.14').
_FLOOR = re.compile(r"^(~>|>=|=)?\s*(\d+(?:\.\d+){0,2})$")


@dataclass(frozen=True)
class PodfilePins:
    path: Path
    tflite_requirement: str | None  # e.g. "~> 2.17.0"; "" for the pod with no version; None for no such pod
    tflite_floor: str | None  # the oldest pod version the requirement lets `pod install` pick, e.g. "2.17.0"
    ios_platform: str | None  # e.g. "16.0"

    def check_tflite(self, needed: str | None, ops, *, artifact: str) -> None:
        """UsageError (one line) when the pinned pod may be older than the TFLite runtime `needed`."""
        if self.tflite_floor is None:
            what = "no usable version" if self.tflite_requirement is not None else f"no {TFLITE_POD} pod"
            raise UsageError(f"{self.path} pins {what} for {TFLITE_POD}, so the runtime the app gets is unknown; "
                             f"pin it, e.g. pod '{TFLITE_POD}', '~> {LAST_TFLITE_POD}'")
        if needed is None or not is_newer(needed, self.tflite_floor):
            return
        newer = ops_needing_newer(ops, self.tflite_floor)
        op = f" ({newer[-1][0]} version {newer[-1][1]})" if newer else ""
        if is_newer(needed, LAST_TFLITE_POD):
            fix = f"re-export it with --min-runtime {self._floor_short()} (no {TFLITE_POD} pod past {LAST_TFLITE_POD} exists)"
        else:
            fix = (f"re-export it with --min-runtime {self._floor_short()}, or pin pod '{TFLITE_POD}', "
                   f"'~> {needed}' in {self.path.name} and run pod install")
        raise UsageError(f"{artifact} needs TFLite {needed}{op}, newer than the {TFLITE_POD} {self.tflite_requirement!r} "
                         f"that {self.path} pins (from {self.tflite_floor}); {fix}")

    def check_ios(self, minimum_ios: str | None, *, artifact: str) -> None:
        """UsageError when a Core ML model needs a newer iOS than the app's deployment target."""
        if minimum_ios is None or self.ios_platform is None or not is_newer(minimum_ios, self.ios_platform):
            return
        raise UsageError(f"{artifact} needs iOS {minimum_ios}, newer than the app's deployment target "
                         f"(platform :ios, '{self.ios_platform}' in {self.path}); re-export it with --minimum-ios "
                         f"{parse_version(self.ios_platform)[0]}")

    def _floor_short(self) -> str:
        major, minor, patch = parse_version(self.tflite_floor)
        return f"{major}.{minor}" if patch == 0 else version_text((major, minor, patch))


def read_podfile(path: Path) -> PodfilePins:
    """The TensorFlowLiteSwift requirement and iOS platform of a Podfile; UsageError when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the app's Podfile ({getattr(exc, 'strerror', None) or exc}); "
                         "pass --podfile pointing at the Podfile the app is built with") from None
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())  # comments are not pins
    pod, platform = _POD.search(text), _PLATFORM.search(text)
    requirement = (pod.group(1) or "").strip() if pod else None
    match = _FLOOR.match(requirement or "")
    floor = None
    if match:
        floor = version_text(parse_version(match.group(2) if "." in match.group(2) else f"{match.group(2)}.0"))
    return PodfilePins(Path(path), requirement, floor, platform.group(1) if platform else None)
