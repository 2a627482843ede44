"""On-device runs: the standalone harness (harness/, copied into bundles as plain files), the bundler
that packs an artifact with golden vectors and gates, and the golden-vector gates themselves.

Only `harness/` and `run.py` travel to devices; the rest of this package runs on the host.
"""

from pathlib import Path

HARNESS_PACKAGE = Path(__file__).parent / "harness"
ENTRY_SCRIPT = Path(__file__).parent / "run.py"
