"""Peak memory of this process, measured the one way that is honest for spawned children."""

from __future__ import annotations

import platform
import resource
from pathlib import Path


def peak_rss_bytes() -> int:
    """High-water RSS of this process since it started its program.

    Linux: VmHWM, which exec resets. Not ru_maxrss: Linux carries that across fork + exec, so a spawned
    child would report at least its parent's RSS at the time of the fork (every export launched by
    `edgevit demo` showed the trainer's 1.17 GiB).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(usage if platform.system() == "Darwin" else usage * 1024)  # macOS: bytes, Linux: KiB
