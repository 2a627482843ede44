"""The layering is a contract CI checks: imports point down, never up or in a circle, and portable/
(copied unchanged onto devices) needs nothing but the standard library and numpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy

REPO = Path(__file__).resolve().parents[2]
PORTABLE = REPO / "edgevit" / "portable"


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout
    # Every contract named in pyproject.toml ran (none silently dropped).
    assert done.stdout.count(" KEPT") == 4, done.stdout[-2000:]


def test_portable_imports_with_only_the_standard_library_and_numpy(tmp_path):
    """Each portable module imports in a Python whose sys.path holds the stdlib, numpy and edgevit only."""
    only_numpy = tmp_path / "site"
    only_numpy.mkdir()
    numpy_dir = Path(numpy.__file__).parent
    for sibling in numpy_dir.parent.glob("numpy*"):  # numpy and numpy.libs (its bundled BLAS)
        (only_numpy / sibling.name).symlink_to(sibling)
    modules = sorted(p.stem for p in PORTABLE.glob("*.py") if p.stem != "__init__")
    script = (
        "import importlib, sys\n"
        # -I -S: no site-packages, no working folder; only the stdlib entries are left to keep.
        "assert not any('site-packages' in p for p in sys.path), sys.path\n"
        f"sys.path += [{str(only_numpy)!r}, {str(REPO)!r}]\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module('edgevit.portable.' + name)\n"
        "third_party = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'__main__', 'edgevit', 'numpy'})\n"
        "edgevit_modules = sorted(m for m in sys.modules if m.startswith('edgevit.') and not m.startswith('edgevit.portable'))\n"
        "print(third_party, edgevit_modules)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[] []", done.stdout
    assert len(modules) >= 8  # files, machine, timing, records, golden, parity, runtimes, errors, main
