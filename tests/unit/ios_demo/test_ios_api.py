"""The iOS app calls only TensorFlowLiteSwift, Core ML, Vision and AVFoundation symbols that exist (Swift cannot be compiled here).

ios_demo/api/*.json lists, per framework, the symbols the app may use as Swift declarations read from
upstream (TensorFlowLiteSwift's sources for the pinned pod, Apple's documentation for the iOS 16 SDK).
tests/helpers/swift_api.py walks the app's syntax tree and fails on any member of those types that is not
listed. The fixtures in fixtures/before_issue_20 are the two files as they were before the fix: the check
fails on exactly the two errors a compiler would have reported there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.ios import IOS_DEMO
from helpers.swift_api import API_DIR, check, load_api

BEFORE = Path(__file__).parent / "fixtures" / "before_issue_20"


def _app_sources() -> dict[str, bytes]:
    return {p.relative_to(IOS_DEMO).as_posix(): p.read_bytes() for p in sorted(IOS_DEMO.rglob("*.swift"))}


def test_the_app_uses_only_listed_symbols():
    assert check().problems == []


def test_the_code_before_the_fix_fails_on_both_errors():
    sources = {**_app_sources(), **{f"EdgeViTDemo/{p.name}": p.read_bytes() for p in BEFORE.glob("*.swift")}}
    problems = check(sources).problems
    assert [p.split(": ", 1)[0] for p in problems] == [
        "EdgeViTDemo/DeviceProbe.swift:32",
        "EdgeViTDemo/TFLiteClassifier.swift:62",
        "EdgeViTDemo/TFLiteClassifier.swift:84",
    ], problems
    assert "MLAllComputeDevices is not visible from Swift" in problems[0] and "MLComputeDevice.allComputeDevices" in problems[0]
    assert all("Tensor.DataType has no case or static member 'int8'" in p for p in problems[1:])


def test_the_checker_reaches_the_calls_that_matter():
    """Each entry was resolved through inferred types: losing one means the checker stopped looking there."""
    uses = check().uses
    expected = {
        ("Interpreter", "init(modelPath:options:delegates:)"), ("Interpreter", "signatureRunner(with:)"),
        ("Interpreter.Options", "threadCount"), ("Interpreter.Options", "isXNNPackEnabled"),
        ("SignatureRunner", "invoke(with:)"), ("SignatureRunner", "output(named:)"), ("SignatureRunner", "input(named:)"),
        ("SignatureRunner", "resizeInput(named:toShape:)"), ("Tensor", "dataType"), ("Tensor.DataType", "float32"),
        ("Tensor.Shape", "init(_:)"), ("Runtime", "version"),
        ("MLComputeDevice", "allComputeDevices"), ("MLComputeDevice", "neuralEngine(_:)"), ("MLNeuralEngineComputeDevice", "totalCoreCount"),
        ("MLModel", "compileModel(at:)"), ("MLModel", "init(contentsOf:configuration:)"), ("MLModel", "prediction(from:)"),
        ("MLModelConfiguration", "computeUnits"), ("MLComputeUnits", "all"), ("MLFeatureType", "image"),
        ("MLMultiArray", "init(shape:dataType:)"), ("MLMultiArrayDataType", "float32"), ("MLFeatureValue", "dictionaryValue"),
        ("VNCoreMLRequest", "imageCropAndScaleOption"), ("VNImageCropAndScaleOption", "scaleFill"),
        ("VNImageRequestHandler", "perform(_:)"), ("VNClassificationObservation", "identifier"),
        ("AVCaptureDevice", "default(_:for:position:)"), ("AVCaptureDevice.Position", "back"), ("AVMediaType", "video"),
        ("AVCaptureSession.Preset", "hd1280x720"), ("AVCaptureVideoDataOutput", "setSampleBufferDelegate(_:queue:)"),
        ("AVCaptureConnection", "videoRotationAngle"), ("AVCaptureVideoOrientation", "portrait"),
        ("AVCaptureVideoDataOutputSampleBufferDelegate", "captureOutput(_:didOutput:from:)"),
    }
    assert expected <= uses, sorted(expected - uses)


WRAP = "import AVFoundation\nimport CoreML\nimport TensorFlowLite\nimport Vision\n\n"
MISTAKES = {
    "a missing enum case": ("func f(t: Tensor) -> Bool { t.dataType == .int8 }",
                            "Tensor.DataType has no case or static member 'int8'"),
    "a qualified missing case": ("let x = Tensor.DataType.int8", "Tensor.DataType has no type member 'int8'"),
    "a wrong argument label": ("func f(i: Interpreter, d: Data) throws { try i.copy(d, toInput: 0) }",
                               "Interpreter has no copy(_:toInput:)"),
    "a missing property": ("func f(i: Interpreter) -> Int { i.threadCount }", "Interpreter has no member 'threadCount'"),
    "a missing initialiser": ("let r = VNCoreMLRequest(mlModel: m)", "VNCoreMLRequest has no init(mlModel:)"),
    "an unguarded iOS 17 member": ("func f() -> Int { MLComputeDevice.allComputeDevices.count }",
                                   "MLComputeDevice needs iOS 17.0"),
    "a wrong implicit member in an argument": ("let d = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .rear)",
                                               "AVCaptureDevice.Position has no case or static member 'rear'"),
    "a wrong implicit member in an assignment": ("func f(c: MLModelConfiguration) { c.computeUnits = .neuralEngineOnly }",
                                                 "MLComputeUnits has no case or static member 'neuralEngineOnly'"),
    "an unlisted framework type": ("let p = MLPredictionSession()", "MLPredictionSession is not in the Core ML, Vision or AVFoundation lists"),
    "a delegate method that would never be called": (
        "final class C: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {\n"
        "    func captureOutput(_ output: AVCaptureOutput, didOutputSampleBuffer sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {}\n}",
        "does not match AVCaptureVideoDataOutputSampleBufferDelegate's"),
    "a member of an inferred local": ("func f(i: Interpreter) throws { let t = try i.input(at: 0); _ = t.bytes }",
                                      "Tensor has no member 'bytes'"),
    "a member through a for loop": ("func f() { if #available(iOS 17.0, *) { for d in MLComputeDevice.allComputeDevices { _ = d.name } } }",
                                    "MLComputeDevice has no member 'name'"),
}


@pytest.mark.parametrize("snippet, message", MISTAKES.values(), ids=MISTAKES.keys())
def test_the_checker_catches(snippet, message):
    problems = check({"Snippet.swift": (WRAP + snippet + "\n").encode()}).problems
    assert any(message in p for p in problems), problems


CORRECT = [
    "func f(t: Tensor) -> Bool { t.dataType == .float32 }",
    "func f() { if #available(iOS 17.0, *) { for d in MLComputeDevice.allComputeDevices { if case .neuralEngine(let e) = d { _ = e.totalCoreCount } } } }",
    "let d = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back)",
    "func f(c: MLModelConfiguration) { c.computeUnits = .cpuAndNeuralEngine }",
    "let v = TensorFlowLite.Runtime.version",
]


@pytest.mark.parametrize("snippet", CORRECT)
def test_the_checker_accepts_correct_uses(snippet):
    assert check({"Snippet.swift": (WRAP + snippet + "\n").encode()}).problems == []


def test_every_list_names_its_upstream_source_and_version():
    api = load_api()
    assert {p.name for p in API_DIR.glob("*.json")} == {"tensorflowlite.json", "coreml.json", "vision.json", "avfoundation.json"}
    for name, data in api.files.items():
        assert data["version"] and data["read_from"], name
    assert "MLAllComputeDevices" in api.not_in_swift
    members = [m for t in api.types.values() for m in t.members]
    assert len(members) > 150
    assert {m.name for m in api.types["Tensor.DataType"].members} == {"bool", "uInt8", "int16", "int32", "int64", "float16",
                                                                      "float32", "float64"}


def test_the_tflite_list_is_for_the_pod_the_podfile_pins():
    """When the Podfile's pin moves, the TensorFlowLiteSwift list must be read again for the new version."""
    podfile = (IOS_DEMO / "Podfile").read_text()
    pin = re.search(r"pod 'TensorFlowLiteSwift', '(?:~>\s*)?([\d.]+)'", podfile).group(1)
    listed = json.loads((API_DIR / "tensorflowlite.json").read_text())["pod_version"]
    assert pin.split(".")[:2] == listed.split(".")[:2], f"Podfile pins {pin}, ios_demo/api/tensorflowlite.json was read for {listed}"
