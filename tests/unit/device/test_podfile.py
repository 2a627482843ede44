"""The app's Podfile: which TensorFlowLiteSwift and iOS it pins, and the one line ios-sync refuses with."""

from __future__ import annotations

import pytest

from edgevit.device.podfile import LAST_TFLITE_POD, read_podfile
from edgevit.errors import UsageError
from helpers.ios import IOS_DEMO

DYNAMIC_OPS = [("FULLY_CONNECTED", 12), ("GELU", 1)]  # what the default weight-quantized export declares
OLD_OPS = [("FULLY_CONNECTED", 9), ("GELU", 1)]  # --min-runtime 2.14


def _podfile(tmp_path, pod_line: str, platform: str = "platform :ios, '16.0'"):
    path = tmp_path / "Podfile"
    path.write_text(f"# pod 'TensorFlowLiteSwift', '~> 1.0' in a comment is no pin\n{platform}\n"
                    f"target 'EdgeViTDemo' do\n  use_frameworks!\n  {pod_line}\nend\n")
    return read_podfile(path)


@pytest.mark.parametrize("line, floor", [
    ("pod 'TensorFlowLiteSwift', '~> 2.14'", "2.14.0"),
    ('pod "TensorFlowLiteSwift", "~> 2.17.0"', "2.17.0"),
    ("pod 'TensorFlowLiteSwift', '>= 2.13'", "2.13.0"),
    ("pod 'TensorFlowLiteSwift', '2.16.1'", "2.16.1"),
    ("pod 'TensorFlowLiteSwift', '< 2.17'", None),
    ("pod 'TensorFlowLiteSwift'", None),
])
def test_the_lowest_pod_a_requirement_allows(tmp_path, line, floor):
    pins = _podfile(tmp_path, line)
    assert pins.tflite_floor == floor and pins.ios_platform == "16.0"


def test_the_committed_podfile_pins_what_the_default_export_needs():
    pins = read_podfile(IOS_DEMO / "Podfile")
    assert pins.tflite_floor == LAST_TFLITE_POD == "2.17.0"
    pins.check_tflite("2.17.0", DYNAMIC_OPS, artifact="tflite-dynamic")  # the default weight-quantized artifact
    pins.check_ios("16", artifact="coreml-fp16")


def test_a_model_newer_than_the_pinned_pod_is_refused_in_one_line(tmp_path):
    pins = _podfile(tmp_path, "pod 'TensorFlowLiteSwift', '~> 2.14'")
    pins.check_tflite("2.9.0", OLD_OPS, artifact="tflite-dynamic-rt2.14")
    with pytest.raises(UsageError) as caught:
        pins.check_tflite("2.17.0", DYNAMIC_OPS, artifact="tflite-dynamic")
    message = str(caught.value)
    assert "\n" not in message
    assert "needs TFLite 2.17.0 (FULLY_CONNECTED version 12)" in message and "'~> 2.14'" in message
    assert "--min-runtime 2.14" in message and "'~> 2.17.0'" in message
    # Past the last pod there is no pin to raise: only the re-export is offered.
    with pytest.raises(UsageError, match=r"needs TFLite 2.18.0 .*--min-runtime 2.14 \(no TensorFlowLiteSwift pod past 2.17.0"):
        pins.check_tflite("2.18.0", [("FULLY_CONNECTED", 13)], artifact="x")


def test_no_usable_pin_and_newer_ios_are_refused(tmp_path):
    with pytest.raises(UsageError, match="pins no usable version for TensorFlowLiteSwift"):
        _podfile(tmp_path, "pod 'TensorFlowLiteSwift'").check_tflite("2.9.0", OLD_OPS, artifact="x")
    with pytest.raises(UsageError, match="pins no TensorFlowLiteSwift pod"):
        _podfile(tmp_path, "pod 'Other', '1.0'").check_tflite("2.9.0", OLD_OPS, artifact="x")
    with pytest.raises(UsageError, match=r"needs iOS 17, newer than the app's deployment target .*--minimum-ios 16"):
        _podfile(tmp_path, "pod 'TensorFlowLiteSwift', '~> 2.17.0'").check_ios("17", artifact="coreml-fp16")
    with pytest.raises(UsageError, match="cannot read the app's Podfile"):
        read_podfile(tmp_path / "missing" / "Podfile")
