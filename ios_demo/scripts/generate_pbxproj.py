"""Write ios_demo/EdgeViTDemo.xcodeproj/project.pbxproj from the .swift files in ios_demo/EdgeViTDemo.

Run it after adding or removing a Swift file when no Xcode is at hand (`python3 ios_demo/scripts/generate_pbxproj.py [OUT]`);
the IDs are derived from the file names, so regenerating an unchanged tree gives the same file byte for byte.
tests/unit/ios_demo/test_ios_project.py fails when the project and the folder disagree.

`pod install` edits this project (Pods framework, [CP] build phases, base configurations): regenerating
afterwards would drop that integration, so the script refuses a project `pod install` has touched unless
given --force, and then `pod install` must be run again (ios_demo/README.md gives the order).

The target compiles with SWIFT_STRICT_CONCURRENCY = complete: under Swift 5 language mode every data-race
diagnostic Swift 6 would make an error shows as a warning, so a build lists what would block Swift 6.
"""
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
swift = sorted(p.name for p in (ROOT / "EdgeViTDemo").glob("*.swift"))

def oid(name):
    return hashlib.md5(f"edgevit-ios-demo:{name}".encode()).hexdigest()[:24].upper()

lines = []
w = lines.append
P = {k: oid(k) for k in ["project", "target", "main_group", "app_group", "products_group", "product",
                          "sources", "frameworks", "resources", "models_ref", "models_build",
                          "proj_debug", "proj_release", "target_debug", "target_release", "proj_list", "target_list"]}
w("// !$*UTF8*$!")
w("{")
w("\tarchiveVersion = 1;")
w("\tclasses = {")
w("\t};")
w("\tobjectVersion = 56;")
w("\tobjects = {")
w("")
w("/* Begin PBXBuildFile section */")
for f in swift:
    w(f"\t\t{oid('build:' + f)} /* {f} in Sources */ = {{isa = PBXBuildFile; fileRef = {oid('ref:' + f)} /* {f} */; }};")
w(f"\t\t{P['models_build']} /* Models in Resources */ = {{isa = PBXBuildFile; fileRef = {P['models_ref']} /* Models */; }};")
w("/* End PBXBuildFile section */")
w("")
w("/* Begin PBXFileReference section */")
w(f"\t\t{P['product']} /* EdgeViTDemo.app */ = {{isa = PBXFileReference; explicitFileType = wrapper.application; includeInIndex = 0; path = EdgeViTDemo.app; sourceTree = BUILT_PRODUCTS_DIR; }};")
for f in swift:
    w(f"\t\t{oid('ref:' + f)} /* {f} */ = {{isa = PBXFileReference; lastKnownFileType = sourcecode.swift; path = {f}; sourceTree = \"<group>\"; }};")
w(f"\t\t{P['models_ref']} /* Models */ = {{isa = PBXFileReference; lastKnownFileType = folder; path = Models; sourceTree = \"<group>\"; }};")
w("/* End PBXFileReference section */")
w("")
w("/* Begin PBXFrameworksBuildPhase section */")
w(f"\t\t{P['frameworks']} /* Frameworks */ = {{")
w("\t\t\tisa = PBXFrameworksBuildPhase;")
w("\t\t\tbuildActionMask = 2147483647;")
w("\t\t\tfiles = (")
w("\t\t\t);")
w("\t\t\trunOnlyForDeploymentPostprocessing = 0;")
w("\t\t};")
w("/* End PBXFrameworksBuildPhase section */")
w("")
w("/* Begin PBXGroup section */")
w(f"\t\t{P['main_group']} = {{")
w("\t\t\tisa = PBXGroup;")
w("\t\t\tchildren = (")
w(f"\t\t\t\t{P['app_group']} /* EdgeViTDemo */,")
w(f"\t\t\t\t{P['products_group']} /* Products */,")
w("\t\t\t);")
w("\t\t\tsourceTree = \"<group>\";")
w("\t\t};")
w(f"\t\t{P['app_group']} /* EdgeViTDemo */ = {{")
w("\t\t\tisa = PBXGroup;")
w("\t\t\tchildren = (")
for f in swift:
    w(f"\t\t\t\t{oid('ref:' + f)} /* {f} */,")
w(f"\t\t\t\t{P['models_ref']} /* Models */,")
w("\t\t\t);")
w("\t\t\tpath = EdgeViTDemo;")
w("\t\t\tsourceTree = \"<group>\";")
w("\t\t};")
w(f"\t\t{P['products_group']} /* Products */ = {{")
w("\t\t\tisa = PBXGroup;")
w("\t\t\tchildren = (")
w(f"\t\t\t\t{P['product']} /* EdgeViTDemo.app */,")
w("\t\t\t);")
w("\t\t\tname = Products;")
w("\t\t\tsourceTree = \"<group>\";")
w("\t\t};")
w("/* End PBXGroup section */")
w("")
w("/* Begin PBXNativeTarget section */")
w(f"\t\t{P['target']} /* EdgeViTDemo */ = {{")
w("\t\t\tisa = PBXNativeTarget;")
w(f"\t\t\tbuildConfigurationList = {P['target_list']} /* Build configuration list for PBXNativeTarget \"EdgeViTDemo\" */;")
w("\t\t\tbuildPhases = (")
w(f"\t\t\t\t{P['sources']} /* Sources */,")
w(f"\t\t\t\t{P['frameworks']} /* Frameworks */,")
w(f"\t\t\t\t{P['resources']} /* Resources */,")
w("\t\t\t);")
w("\t\t\tbuildRules = (")
w("\t\t\t);")
w("\t\t\tdependencies = (")
w("\t\t\t);")
w("\t\t\tname = EdgeViTDemo;")
w("\t\t\tproductName = EdgeViTDemo;")
w(f"\t\t\tproductReference = {P['product']} /* EdgeViTDemo.app */;")
w("\t\t\tproductType = \"com.apple.product-type.application\";")
w("\t\t};")
w("/* End PBXNativeTarget section */")
w("")
w("/* Begin PBXProject section */")
w(f"\t\t{P['project']} /* Project object */ = {{")
w("\t\t\tisa = PBXProject;")
w("\t\t\tattributes = {")
w("\t\t\t\tBuildIndependentTargetsInParallel = 1;")
w("\t\t\t\tLastSwiftUpdateCheck = 1500;")
w("\t\t\t\tLastUpgradeCheck = 1500;")
w("\t\t\t\tTargetAttributes = {")
w(f"\t\t\t\t\t{P['target']} = {{")
w("\t\t\t\t\t\tCreatedOnToolsVersion = 15.0;")
w("\t\t\t\t\t};")
w("\t\t\t\t};")
w("\t\t\t};")
w(f"\t\t\tbuildConfigurationList = {P['proj_list']} /* Build configuration list for PBXProject \"EdgeViTDemo\" */;")
w("\t\t\tcompatibilityVersion = \"Xcode 14.0\";")
w("\t\t\tdevelopmentRegion = en;")
w("\t\t\thasScannedForEncodings = 0;")
w("\t\t\tknownRegions = (")
w("\t\t\t\ten,")
w("\t\t\t\tBase,")
w("\t\t\t);")
w(f"\t\t\tmainGroup = {P['main_group']};")
w(f"\t\t\tproductRefGroup = {P['products_group']} /* Products */;")
w("\t\t\tprojectDirPath = \"\";")
w("\t\t\tprojectRoot = \"\";")
w("\t\t\ttargets = (")
w(f"\t\t\t\t{P['target']} /* EdgeViTDemo */,")
w("\t\t\t);")
w("\t\t};")
w("/* End PBXProject section */")
w("")
w("/* Begin PBXResourcesBuildPhase section */")
w(f"\t\t{P['resources']} /* Resources */ = {{")
w("\t\t\tisa = PBXResourcesBuildPhase;")
w("\t\t\tbuildActionMask = 2147483647;")
w("\t\t\tfiles = (")
w(f"\t\t\t\t{P['models_build']} /* Models in Resources */,")
w("\t\t\t);")
w("\t\t\trunOnlyForDeploymentPostprocessing = 0;")
w("\t\t};")
w("/* End PBXResourcesBuildPhase section */")
w("")
w("/* Begin PBXSourcesBuildPhase section */")
w(f"\t\t{P['sources']} /* Sources */ = {{")
w("\t\t\tisa = PBXSourcesBuildPhase;")
w("\t\t\tbuildActionMask = 2147483647;")
w("\t\t\tfiles = (")
for f in swift:
    w(f"\t\t\t\t{oid('build:' + f)} /* {f} in Sources */,")
w("\t\t\t);")
w("\t\t\trunOnlyForDeploymentPostprocessing = 0;")
w("\t\t};")
w("/* End PBXSourcesBuildPhase section */")
w("")

def settings(d):
    out = []
    for k in sorted(d):
        v = d[k]
        if isinstance(v, list):
            out.append(f"\t\t\t\t{k} = (")
            for item in v:
                out.append(f"\t\t\t\t\t{item},")
            out.append("\t\t\t\t);")
        else:
            out.append(f"\t\t\t\t{k} = {v};")
    return out

common = {
    "ALWAYS_SEARCH_USER_PATHS": "NO", "CLANG_ENABLE_MODULES": "YES", "CLANG_ENABLE_OBJC_ARC": "YES",
    "COPY_PHASE_STRIP": "NO", "ENABLE_STRICT_OBJC_MSGSEND": "YES", "ENABLE_USER_SCRIPT_SANDBOXING": "NO",
    "GCC_C_LANGUAGE_STANDARD": "gnu17", "GCC_NO_COMMON_BLOCKS": "YES", "IPHONEOS_DEPLOYMENT_TARGET": "16.0",
    "SDKROOT": "iphoneos", "SWIFT_VERSION": "5.0",
}
proj_debug = {**common, "DEBUG_INFORMATION_FORMAT": "dwarf", "ENABLE_TESTABILITY": "YES", "GCC_OPTIMIZATION_LEVEL": "0",
              "GCC_PREPROCESSOR_DEFINITIONS": ['"DEBUG=1"', '"$(inherited)"'], "ONLY_ACTIVE_ARCH": "YES",
              "SWIFT_ACTIVE_COMPILATION_CONDITIONS": "DEBUG", "SWIFT_OPTIMIZATION_LEVEL": '"-Onone"'}
proj_release = {**common, "DEBUG_INFORMATION_FORMAT": '"dwarf-with-dsym"', "ENABLE_NS_ASSERTIONS": "NO",
                "SWIFT_COMPILATION_MODE": "wholemodule", "SWIFT_OPTIMIZATION_LEVEL": '"-O"', "VALIDATE_PRODUCT": "YES"}
target = {
    "CODE_SIGN_STYLE": "Automatic", "CURRENT_PROJECT_VERSION": "1", "DEVELOPMENT_TEAM": '""',
    "ENABLE_USER_SCRIPT_SANDBOXING": "NO", "GENERATE_INFOPLIST_FILE": "YES",
    "INFOPLIST_KEY_CFBundleDisplayName": "EdgeViT",
    "INFOPLIST_KEY_LSSupportsOpeningDocumentsInPlace": "YES",
    "INFOPLIST_KEY_NSCameraUsageDescription": '"Classifies the camera feed with the bundled model, on the device."',
    "INFOPLIST_KEY_UIApplicationSceneManifest_Generation": "YES",
    "INFOPLIST_KEY_UIApplicationSupportsIndirectInputEvents": "YES",
    "INFOPLIST_KEY_UIFileSharingEnabled": "YES",
    "INFOPLIST_KEY_UILaunchScreen_Generation": "YES",
    "INFOPLIST_KEY_UISupportedInterfaceOrientations": "UIInterfaceOrientationPortrait",
    "LD_RUNPATH_SEARCH_PATHS": ['"$(inherited)"', '"@executable_path/Frameworks"'],
    "MARKETING_VERSION": "0.1.0", "PRODUCT_BUNDLE_IDENTIFIER": '"org.example.edgevit.demo"',
    "PRODUCT_NAME": '"$(TARGET_NAME)"', "SWIFT_EMIT_LOC_STRINGS": "YES", "SWIFT_STRICT_CONCURRENCY": "complete",
    "TARGETED_DEVICE_FAMILY": '"1,2"',
}
w("/* Begin XCBuildConfiguration section */")
for key, name, d in (("proj_debug", "Debug", proj_debug), ("proj_release", "Release", proj_release),
                     ("target_debug", "Debug", target), ("target_release", "Release", target)):
    w(f"\t\t{P[key]} /* {name} */ = {{")
    w("\t\t\tisa = XCBuildConfiguration;")
    w("\t\t\tbuildSettings = {")
    lines.extend(settings(d))
    w("\t\t\t};")
    w(f"\t\t\tname = {name};")
    w("\t\t};")
w("/* End XCBuildConfiguration section */")
w("")
w("/* Begin XCConfigurationList section */")
for key, what, dbg, rel in (("proj_list", 'PBXProject "EdgeViTDemo"', "proj_debug", "proj_release"),
                            ("target_list", 'PBXNativeTarget "EdgeViTDemo"', "target_debug", "target_release")):
    w(f"\t\t{P[key]} /* Build configuration list for {what} */ = {{")
    w("\t\t\tisa = XCConfigurationList;")
    w("\t\t\tbuildConfigurations = (")
    w(f"\t\t\t\t{P[dbg]} /* Debug */,")
    w(f"\t\t\t\t{P[rel]} /* Release */,")
    w("\t\t\t);")
    w("\t\t\tdefaultConfigurationIsVisible = 0;")
    w("\t\t\tdefaultConfigurationName = Release;")
    w("\t\t};")
w("/* End XCConfigurationList section */")
w("\t};")
w(f"\trootObject = {P['project']} /* Project object */;")
w("}")
# An optional argument writes elsewhere (the test compares that with the committed file).
args = [a for a in sys.argv[1:] if a != "--force"]
out = Path(args[0]) if args else ROOT / "EdgeViTDemo.xcodeproj" / "project.pbxproj"
COCOAPODS_MARKS = ("[CP] ", "Pods-EdgeViTDemo", "Pods_EdgeViTDemo")
if out.is_file() and "--force" not in sys.argv and any(mark in out.read_text() for mark in COCOAPODS_MARKS):
    sys.exit(f"{out}: `pod install` has integrated CocoaPods into this project and regenerating would remove it; "
             "run again with --force, then `pod install` again")
out.write_text("\n".join(lines) + "\n")
print(f"{out}: {len(swift)} Swift files")
