"""Host side of on-device runs: the bundler (a folder for `python3 run.py` on a Raspberry Pi, Jetson
or Termux), the iOS sync, and the golden-vector gates both write for the device.

What travels to devices is edgevit/portable/ (copied into a bundle's `harness/` folder as plain
files) and `run.py`, the bundle's entry point; nothing in this package runs on a device.
"""

from pathlib import Path

import edgevit.portable

HARNESS_PACKAGE = Path(edgevit.portable.__file__).parent
ENTRY_SCRIPT = Path(__file__).parent / "run.py"
