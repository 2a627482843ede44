"""The Xcode project builds what the folder holds: every Swift file compiled, the Models folder bundled."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from helpers.ios import IOS_DEMO, parse_pbxproj

PROJECT = IOS_DEMO / "EdgeViTDemo.xcodeproj" / "project.pbxproj"


def _project():
    document = parse_pbxproj(PROJECT.read_text())
    return document, document["objects"]


def _target(objects):
    (target,) = [o for o in objects.values() if o["isa"] == "PBXNativeTarget"]
    return target


def _phase(objects, target, isa):
    (phase,) = [objects[i] for i in target["buildPhases"] if objects[i]["isa"] == isa]
    return [objects[objects[f]["fileRef"]] for f in phase["files"]]


def test_every_swift_file_is_compiled_and_nothing_else():
    _, objects = _project()
    target = _target(objects)
    compiled = sorted(ref["path"] for ref in _phase(objects, target, "PBXSourcesBuildPhase"))
    on_disk = sorted(p.name for p in (IOS_DEMO / "EdgeViTDemo").glob("*.swift"))
    assert compiled == on_disk, "run python3 ios_demo/scripts/generate_pbxproj.py after adding or removing a Swift file"
    assert target["productType"] == "com.apple.product-type.application"


def test_models_is_a_folder_reference_copied_into_the_app():
    _, objects = _project()
    (models,) = _phase(objects, _target(objects), "PBXResourcesBuildPhase")
    assert models["path"] == "Models" and models["lastKnownFileType"] == "folder"
    assert (IOS_DEMO / "EdgeViTDemo" / "Models").is_dir()


def test_every_object_reference_resolves():
    document, objects = _project()
    assert document["rootObject"] in objects
    ids = set(objects)
    referenced = set(re.findall(r"\b[0-9A-F]{24}\b", PROJECT.read_text()))
    assert referenced == ids


def test_target_settings_the_app_needs():
    _, objects = _project()
    target = _target(objects)
    configurations = [objects[i] for i in objects[target["buildConfigurationList"]]["buildConfigurations"]]
    assert sorted(c["name"] for c in configurations) == ["Debug", "Release"]
    podfile = (IOS_DEMO / "Podfile").read_text()
    platform = re.search(r"platform :ios, '([\d.]+)'", podfile).group(1)
    assert "pod 'TensorFlowLiteSwift'" in podfile
    for config in configurations:
        settings = config["buildSettings"]
        assert settings["GENERATE_INFOPLIST_FILE"] == "YES"
        assert len(settings["INFOPLIST_KEY_NSCameraUsageDescription"]) > 10  # without it iOS kills the app at camera start
        assert settings["ENABLE_USER_SCRIPT_SANDBOXING"] == "NO"  # CocoaPods' embed script needs it off
        assert settings["INFOPLIST_KEY_UIFileSharingEnabled"] == "YES"  # records visible in the Files app
    project_configs = [objects[i] for i in objects[objects[_project()[0]["rootObject"]]["buildConfigurationList"]]["buildConfigurations"]]
    assert {c["buildSettings"]["IPHONEOS_DEPLOYMENT_TARGET"] for c in project_configs} == {platform} == {"16.0"}


def test_the_generator_reproduces_the_committed_project(tmp_path):
    out = tmp_path / "project.pbxproj"
    subprocess.run([sys.executable, str(IOS_DEMO / "scripts" / "generate_pbxproj.py"), str(out)], check=True, capture_output=True)
    assert out.read_text() == PROJECT.read_text()


def test_the_project_parser_rejects_a_damaged_file():
    text = PROJECT.read_text()
    with pytest.raises((AssertionError, IndexError)):
        parse_pbxproj(text.replace("isa = PBXGroup;", "isa = PBXGroup", 1))


def test_the_target_reports_every_strict_concurrency_diagnostic():
    _, objects = _project()
    configurations = [objects[i] for i in objects[_target(objects)["buildConfigurationList"]]["buildConfigurations"]]
    assert {c["buildSettings"]["SWIFT_STRICT_CONCURRENCY"] for c in configurations} == {"complete"}


def test_the_generator_refuses_to_undo_pod_install(tmp_path):
    """After `pod install` the project holds CocoaPods' phases; regenerating would silently drop them."""
    out = tmp_path / "project.pbxproj"
    integrated = PROJECT.read_text().replace("/* Begin PBXShellScriptBuildPhase section */", "") + "\n/* [CP] Check Pods Manifest.lock */\n"
    out.write_text(integrated)
    script = str(IOS_DEMO / "scripts" / "generate_pbxproj.py")
    refused = subprocess.run([sys.executable, script, str(out)], capture_output=True, text=True)
    assert refused.returncode == 1 and out.read_text() == integrated
    assert len(refused.stderr.strip().splitlines()) == 1 and "pod install" in refused.stderr and "--force" in refused.stderr
    subprocess.run([sys.executable, script, str(out), "--force"], check=True, capture_output=True)
    assert out.read_text() == PROJECT.read_text()
