"""Machine fingerprint and process memory from /proc and the platform module (no psutil on devices).

The `id` slug is built the same way as edgevit/machine.py's, so device and host results line up by name.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

# SIMD features that decide how fast float32 and int8 GEMMs can go (the same list as the host's).
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


def _cpu_model(blocks: list[dict[str, str]]) -> str:
    for block in blocks:
        for key in ("model name", "Model", "Hardware", "cpu model"):
            if block.get(key):
                return block[key]
    # Arm boards often put the SoC name only in the trailing block ("Hardware", "Model").
    return platform.processor() or "unknown"


def _physical_cores(blocks: list[dict[str, str]]) -> int | None:
    pairs = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    return len(pairs) or None


def _features(blocks: list[dict[str, str]]) -> list[str]:
    flags: set[str] = set()
    for block in blocks[:1]:
        flags = set((block.get("flags") or block.get("Features") or "").split())
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


def _accelerators() -> list[dict]:
    """NVIDIA GPUs the driver lists under /proc (desktop and Jetson drivers alike); empty otherwise."""
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
    """e.g. linux-x86_64-amd-epyc-2c-24g, or ...-nvidia-h100-80gb-hbm3 with a GPU; edgevit.machine uses it too."""
    parts = [os_name.lower(), arch, _slug(model) or "cpu", f"{cores}c", f"{round(memory / 2**30)}g"]
    parts += [_slug(a["name"]) for a in accel if a["kind"] == "gpu" and os_name != "Darwin"]
    return "-".join(p for p in parts if p)


def fingerprint() -> dict:
    """The record's `machine` block."""
    blocks = _cpuinfo_blocks()
    os_name = "Android" if _is_android() else platform.system()
    arch, model = platform.machine(), _cpu_model(blocks)
    cores = os.cpu_count() or 1
    memory = memory_bytes()
    accel = _accelerators()
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


def _proc_status_bytes(field: str) -> int | None:
    text = _read("/proc/self/status")
    if text:
        match = re.search(rf"^{field}:\s+(\d+)\s*kB", text, re.M)
        if match:
            return int(match.group(1)) * 1024
    return None


def current_rss_bytes() -> int | None:
    return _proc_status_bytes("VmRSS")


def peak_rss_bytes() -> int | None:
    """High-water RSS of this process since it started its program: VmHWM where /proc has it (exact;
    exec resets it), else getrusage's ru_maxrss (KiB on Linux/Android, bytes on macOS; updated lazily,
    so it can trail the current RSS). edgevit's exporters and bench use it too.

    VmHWM first because Linux carries ru_maxrss across fork + exec: a spawned child would report at
    least its parent's RSS at the fork (every export launched by `edgevit demo` showed the trainer's 1.17 GiB).
    """
    peak = _proc_status_bytes("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if platform.system() == "Darwin" else peak * 1024)
