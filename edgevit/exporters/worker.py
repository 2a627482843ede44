"""The child process of export_all: `python -m edgevit.exporters.worker JOB.json RESULT.json`.

Builds one artifact in this fresh process and writes its outcome to RESULT.json (atomically); the
parent reads it, or, if none appears, reports how the process died.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from pathlib import Path

from edgevit.console import configure_from_environment
from edgevit.errors import EdgeVitError
from edgevit.fsutil import atomic_write_json
from edgevit.portable.machine import peak_rss_bytes

INTERNAL_ERROR_EXIT = 70
INTERRUPTED_EXIT = 130
_terminated_by: int | None = None  # the signal that asked this process to stop, once one has


def run(job: dict) -> tuple[int, dict]:
    from edgevit.exporters import export

    try:
        path = export(job["format"], saved_model=job["saved_model"], out_dir=job["out_dir"], name=job["name"], **job["options"])
    except EdgeVitError as exc:
        return exc.exit_code, {"status": "failed", "error": str(exc)}
    except KeyboardInterrupt:
        return _interrupted()
    except MemoryError:
        return 1, {"status": "failed", "error": "out of memory during conversion"}
    except Exception as exc:  # a converter bug: the traceback goes to the log, one line to the report
        # A signal's exception raised inside TensorFlow's C++ comes back wrapped in a RuntimeError: still
        # an interrupt or a termination (the atomic folder has already cleaned up), not a converter bug.
        if _terminated_by == signal.SIGINT:
            return _interrupted()
        if _terminated_by is not None:
            raise SystemExit(128 + _terminated_by) from None
        traceback.print_exc()
        return INTERNAL_ERROR_EXIT, {"status": "failed", "error": f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]}
    return 0, {"status": "ok", "path": str(path)}


def _interrupted() -> tuple[int, dict]:
    return INTERRUPTED_EXIT, {"status": "failed", "error": "interrupted; no partial artifact was left"}


def _interrupt_on_sigint(signum, frame):
    global _terminated_by
    _terminated_by = signum
    raise KeyboardInterrupt


def _exit_on_sigterm(signum, frame):
    # Python's default SIGTERM handling ends the process at once; exiting through SystemExit runs the
    # `finally` of the artifact's atomic folder, so a terminated export leaves no temp folder behind.
    global _terminated_by
    _terminated_by = signum
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    configure_from_environment()  # the CLI's verbosity and noise filter, in this process's log (OUT/logs/<name>.log)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, _interrupt_on_sigint)  # Python's own behaviour, plus a note of it
    job_file, result_file = argv
    code, result = run(json.loads(Path(job_file).read_text()))
    result["peak_rss_bytes"] = peak_rss_bytes()  # this program's own high-water mark (VmHWM)
    if code:
        print(f"edgevit export: {result['error']}", file=sys.stderr)
    atomic_write_json(Path(result_file), result)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
