"""A numpy interpreter for Core ML ML programs (.mlpackage): the Core ML parity reference on Linux.

`MilInterpreter.from_path(path).run({"images": x})` executes the package's MIL program op by op;
see interpreter.py for what it emulates and what it cannot.
"""

from edgevit.runners.mil.interpreter import SUPPORTED_OPS, MilInterpreter, unsupported_ops
from edgevit.runners.mil.program import Program, load_program

__all__ = ["SUPPORTED_OPS", "MilInterpreter", "Program", "load_program", "unsupported_ops"]
