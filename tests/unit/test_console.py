"""edgevit.console: what the CLI lets through at each verbosity, and where it goes."""

from __future__ import annotations

import logging
import os

import pytest

from edgevit.console import Verbosity, configure, native_noise_filtered

PROXY_NOISE = "Failed to load _MLModelProxy: No module named 'coremltools.libcoremlpython'"


def _log_samples() -> None:
    logging.getLogger("edgevit.demo").debug("debug detail")
    logging.getLogger("edgevit.demo").info("progress line")
    logging.getLogger("edgevit.demo").warning("edgevit warning")
    logging.getLogger("tf2onnx.tfonnx").info("third-party info")
    logging.getLogger("coremltools").warning(PROXY_NOISE)
    logging.getLogger("coremltools").warning("a conversion warning")


@pytest.mark.parametrize("verbosity, out, err", [
    (Verbosity.QUIET, [], ["edgevit warning", "WARNING:coremltools:a conversion warning"]),
    (Verbosity.DEFAULT, ["progress line"], ["edgevit warning", "WARNING:coremltools:a conversion warning"]),
    (Verbosity.VERBOSE, ["debug detail", "progress line", "INFO:tf2onnx.tfonnx:third-party info"],
     ["edgevit warning", f"WARNING:coremltools:{PROXY_NOISE}", "WARNING:coremltools:a conversion warning"]),
])
def test_each_verbosity_lets_through_what_it_promises(capsys, verbosity, out, err):
    configure(verbosity)
    _log_samples()
    captured = capsys.readouterr()
    assert captured.out.splitlines() == out
    assert captured.err.splitlines() == err
    assert os.environ["EDGEVIT_VERBOSITY"] == verbosity.value  # what edgevit's child processes follow


def test_configuring_again_replaces_the_handler_instead_of_doubling_lines(capsys):
    configure(Verbosity.DEFAULT)
    configure(Verbosity.DEFAULT)
    logging.getLogger("edgevit.x").info("once")
    assert capsys.readouterr().out == "once\n"


def test_the_xnnpack_banner_on_fd_2_is_dropped_and_other_native_lines_kept(capfd):
    configure(Verbosity.DEFAULT)
    with native_noise_filtered():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nreal native warning\n")
    assert capfd.readouterr().err == "real native warning\n"


def test_verbose_keeps_the_banner(capfd):
    configure(Verbosity.VERBOSE)
    with native_noise_filtered():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert capfd.readouterr().err == "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
