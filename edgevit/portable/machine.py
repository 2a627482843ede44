"""The one machine fingerprint (every record's `machine` block) and process memory, for host and device.

Read from /proc, the platform module and, where present, `sysctl` (macOS) and `nvidia-smi`: no psutil,
so it runs on devices too, and host and device results of one machine share the same `id`.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

# SIMD features that decide how fast float32 and int8 GEMMs can go.
_GEMM_FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                  "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "i8mm", "sve", "neon")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _cpuinfo_blocks() -> list[dict[str, str]]:
    text = _read("/proc/cpuinfo") or ""
    blocks, block = [], {}
    for line in text.splitlines():
        if not line.strip():
            if block:
                blocks.append(block)
                block = {}
            continue
        key, _, value = line.partition(":")
        block.setdefault(key.strip(), value.strip())
    if block:
        blocks.append(block)
    return blocks


def _sysctl(name: str) -> str | None:
    """A macOS sysctl value, None where there is no sysctl or no such name."""
    if shutil.which("sysctl") is None:
        return None
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _is_apple_silicon() -> bool:
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def _cpu_model(blocks: list[dict[str, str]]) -> str:
    for block in blocks:
        for key in ("model name", "Model", "Hardware", "cpu model"):
            if block.get(key):
                return block[key]
    # Arm boards often put the SoC name only in the trailing block ("Hardware", "Model").
    if platform.system() == "Darwin":
        return _sysctl("machdep.cpu.brand_string") or platform.processor() or "unknown"
    return platform.processor() or "unknown"


def _physical_cores(blocks: list[dict[str, str]]) -> int | None:
    pairs = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    return len(pairs) or None


def _features(blocks: list[dict[str, str]]) -> list[str]:
    flags: set[str] = set()
    for block in blocks[:1]:
        flags = set((block.get("flags") or block.get("Features") or "").split())
    if not flags and _is_apple_silicon():
        flags = {"neon", "asimd"} | ({"asimddp"} if _sysctl("hw.optional.arm.FEAT_DotProd") == "1" else set()) \
            | ({"i8mm"} if _sysctl("hw.optional.arm.FEAT_I8MM") == "1" else set())
    return [f for f in _GEMM_FEATURES if f in flags]


def memory_bytes() -> int:
    text = _read("/proc/meminfo")
    if text:
        match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.M)
        if match:
            return int(match.group(1)) * 1024
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def _device_model() -> str | None:
    """Board model on Raspberry Pi / Jetson (device tree), phone model on Android; None on desktops."""
    text = _read("/proc/device-tree/model")
    if text:
        return text.strip("\x00\n ") or None
    if _is_android():
        prop = _read("/system/build.prop") or ""
        match = re.search(r"^ro\.product\.model=(.+)$", prop, re.M)
        return match.group(1).strip() if match else "Android device"
    return None


def _is_android() -> bool:
    return hasattr(sys, "getandroidapilevel") or "ANDROID_ROOT" in os.environ


def _nvidia_smi_gpus() -> list[dict] | None:
    """NVIDIA GPUs with their memory and driver from nvidia-smi; None where it is missing or fails."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    found = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            memory = int(float(parts[1]) * 2**20) if re.fullmatch(r"[\d.]+", parts[1]) else None
            found.append({"kind": "gpu", "name": parts[0], "memory_bytes": memory, "driver": parts[2]})
    return found


def _accelerators(cpu_model: str) -> list[dict]:
    """NVIDIA GPUs (nvidia-smi where installed, else what the driver lists under /proc: desktop and
    Jetson drivers alike), and Apple silicon's GPU and Neural Engine on macOS; empty otherwise."""
    if _is_apple_silicon():
        return [{"kind": "gpu", "name": f"{cpu_model} GPU", "memory_bytes": None, "driver": None},
                {"kind": "ane", "name": f"{cpu_model} Neural Engine", "memory_bytes": None, "driver": None}]
    smi = _nvidia_smi_gpus()
    if smi is not None:
        return smi
    found = []
    root = Path("/proc/driver/nvidia/gpus")
    if root.is_dir():
        for info in sorted(root.glob("*/information")):
            text = _read(str(info)) or ""
            match = re.search(r"^Model:\s*(.+)$", text, re.M)
            found.append({"kind": "gpu", "name": match.group(1).strip() if match else "NVIDIA GPU",
                          "memory_bytes": None, "driver": None})
    return found


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm|c)\)|cpu|processor|@.*$|\bwith\b.*$", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def machine_id(*, os_name: str, arch: str, model: str, cores: int, memory: int, accel: list[dict]) -> str:
    """e.g. linux-x86_64-amd-epyc-2c-24g, or ...-nvidia-h100-80gb-hbm3 with a GPU: names committed result files."""
    parts = [os_name.lower(), arch, _slug(model) or "cpu", f"{cores}c", f"{round(memory / 2**30)}g"]
    parts += [_slug(a["name"]) for a in accel if a["kind"] == "gpu" and os_name != "Darwin"]
    return "-".join(p for p in parts if p)


@functools.lru_cache(maxsize=1)
def fingerprint() -> dict:
    """The record's `machine` block (see edgevit/schemas/record-v1.schema.json); the same all run long.
    Callers must not change the dict they get (it is cached)."""
    blocks = _cpuinfo_blocks()
    os_name = "Android" if _is_android() else platform.system()
    arch, model = platform.machine(), _cpu_model(blocks)
    cores = os.cpu_count() or 1
    memory = memory_bytes()
    accel = _accelerators(model)
    return {
        "id": machine_id(os_name=os_name, arch=arch, model=model, cores=cores, memory=memory, accel=accel),
        "os": os_name,
        "os_release": platform.release(),
        "arch": arch,
        "cpu_model": model,
        "cpu_cores_logical": cores,
        "cpu_cores_physical": _physical_cores(blocks),
        "cpu_features": _features(blocks),
        "memory_bytes": memory,
        "device_model": _device_model(),
        "python": platform.python_version(),
        "accelerators": accel,
    }


def usable_cpus() -> list[int] | None:
    """The CPUs this process may run on (taskset / cgroup cpusets), None where the OS does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def proc_status_bytes(field: str) -> int | None:
    """A kB field of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile, ...) in bytes; None where there is none."""
    text = _read("/proc/self/status")
    if text:
        match = re.search(rf"^{field}:\s+(\d+)\s*kB", text, re.M)
        if match:
            return int(match.group(1)) * 1024
    return None


def current_rss_bytes() -> int | None:
    return proc_status_bytes("VmRSS")


def peak_rss_bytes() -> int | None:
    """High-water RSS of this process since it started its program: VmHWM where /proc has it (exact;
    exec resets it), else getrusage's ru_maxrss (KiB on Linux/Android, bytes on macOS; updated lazily,
    so it can trail the current RSS). edgevit's exporters and bench use it too.

    VmHWM first because Linux carries ru_maxrss across fork + exec: a spawned child would report at
    least its parent's RSS at the fork (every export launched by `edgevit demo` showed the trainer's 1.17 GiB).
    """
    peak = proc_status_bytes("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if platform.system() == "Darwin" else peak * 1024)


def reset_peak_rss() -> bool:
    """Start the high-water mark again from the current RSS (Linux: "5" into /proc/self/clear_refs resets
    VmHWM), so a later peak_rss_bytes() covers only what ran since. False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return proc_status_bytes("VmHWM") is not None
    except OSError:
        return False
