"""The fingerprint of the machine that measured: CPU model, cores, SIMD features, memory, OS, accelerators.

Read from the OS (no TensorFlow import), so it costs milliseconds and is the same in every record of
a run. `id` is a readable slug used to name committed result files; it deliberately leaves out the
hostname (containers and CI runners get random ones).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import psutil

# The device harness names machines the same way: host and device results of one machine share an id.
from edgevit.portable.machine import machine_id

# SIMD features that decide how fast float32 and int8 GEMMs can go.
_GEMM_FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                  "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "i8mm", "sve", "neon")


def _cpuinfo() -> dict[str, str]:
    """The first processor block of /proc/cpuinfo (Linux); empty elsewhere."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return {}
    info: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def _sysctl(name: str) -> str | None:
    if shutil.which("sysctl") is None:
        return None
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def cpu_model() -> str:
    info = _cpuinfo()
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if info.get(key):
            return info[key]
    return _sysctl("machdep.cpu.brand_string") or platform.processor() or "unknown"


def cpu_features() -> list[str]:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    if not flags and platform.system() == "Darwin" and platform.machine() == "arm64":
        flags = {"neon", "asimd"} | ({"asimddp"} if _sysctl("hw.optional.arm.FEAT_DotProd") == "1" else set()) \
            | ({"i8mm"} if _sysctl("hw.optional.arm.FEAT_I8MM") == "1" else set())
    return [f for f in _GEMM_FEATURES if f in flags]


def accelerators() -> list[dict]:
    """NVIDIA GPUs seen by nvidia-smi (name, memory, driver); Apple silicon's GPU and Neural Engine on macOS."""
    found: list[dict] = []
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=20,
            )
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0:
            for line in out.stdout.strip().splitlines():
                parts = [p.strip() for p in line.split(",")]
                if len(parts) == 3:
                    memory = int(float(parts[1]) * 2**20) if re.fullmatch(r"[\d.]+", parts[1]) else None
                    found.append({"kind": "gpu", "name": parts[0], "memory_bytes": memory, "driver": parts[2]})
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        chip = cpu_model()
        found.append({"kind": "gpu", "name": f"{chip} GPU", "memory_bytes": None, "driver": None})
        found.append({"kind": "ane", "name": f"{chip} Neural Engine", "memory_bytes": None, "driver": None})
    return found


@functools.lru_cache(maxsize=1)
def machine_fingerprint() -> dict:
    """The `machine` block of every record (see edgevit/schemas/record-v1.schema.json)."""
    os_name, arch, model = platform.system(), platform.machine(), cpu_model()
    cores = os.cpu_count() or 1
    memory = int(psutil.virtual_memory().total)
    accel = accelerators()
    return {
        "id": machine_id(os_name=os_name, arch=arch, model=model, cores=cores, memory=memory, accel=accel),
        "os": os_name,
        "os_release": platform.release(),
        "arch": arch,
        "cpu_model": model,
        "cpu_cores_logical": cores,
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_features": cpu_features(),
        "memory_bytes": memory,
        "device_model": None,
        "python": platform.python_version(),
        "accelerators": accel,
    }
