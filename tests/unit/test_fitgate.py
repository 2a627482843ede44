"""edgevit.fitgate without building anything: the one gate call, and what it refuses before any work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgevit.errors import UsageError
from edgevit.exporters.jobs import ArtifactJob
from edgevit.fitgate import fit_gate, gate_verdict
from edgevit.formats import Gate


def _metrics(flips: int, *, worsened: int = 0, count: int = 2000, non_finite: int = 0):
    from edgevit.verify.metrics import agreement_from_counts, difference_from_counts

    return SimpleNamespace(agreement_ci=agreement_from_counts(count - flips, count),
                           difference=difference_from_counts(0, worsened, count), max_abs_error=0.01, non_finite=non_finite)


def test_the_gate_verdict_is_pass_only_when_every_interval_clears_it():
    gate = Gate(min_agreement=0.99, max_accuracy_drop=0.5)
    assert gate_verdict(gate, _metrics(4)) == "pass"  # 99.8% of 2,000: the whole interval above 99%
    assert gate_verdict(gate, _metrics(40)) == "fail"  # 98%
    assert gate_verdict(gate, _metrics(4, count=300)) == "inconclusive"  # too few images to show 99% (never kept)
    assert gate_verdict(gate, _metrics(16, worsened=16)) != "pass"  # 0.8 points lower
    assert gate_verdict(gate, _metrics(0, non_finite=3)) == "fail"


def test_modes_without_a_per_layer_mechanism_and_a_shared_split_are_refused(tmp_path):
    with pytest.raises(UsageError, match="onnx int8-dynamic, tflite dynamic, coreml int8, .* only so far; got tflite int8"):
        fit_gate(tmp_path, tmp_path / "out", ArtifactJob.create("tflite", quantization="int8"), gate=Gate(min_agreement=0.99))
    job = ArtifactJob.create("onnx", quantization="int8-dynamic")
    with pytest.raises(UsageError, match="never tuned on the data it judges"):
        fit_gate(tmp_path, tmp_path / "out", job, gate=Gate(min_agreement=0.99), calibration_split="test")
    assert not (tmp_path / "out").exists()


def test_the_modes_searched_are_those_whose_options_take_float_layers():
    from edgevit.exporters.options import FLOAT_LAYER_MODES, OPTIONS, CoreMLOptions

    assert [f"{fmt.value} {q.value}" for fmt, q in FLOAT_LAYER_MODES] == [
        "onnx int8-dynamic", "tflite dynamic", "coreml int8", "coreml palettize6", "coreml palettize4"]
    for fmt, options in OPTIONS.items():  # the table and the options' own check agree, mode by mode
        for quantization in type(options().quantization):
            try:
                options(quantization=quantization, float_layers=("any_layer",), **FLOAT_LAYER_MODES.get((fmt, quantization), {}))
                takes = True
            except UsageError:
                takes = False
            assert takes == ((fmt, quantization) in FLOAT_LAYER_MODES), (fmt, quantization)
    assert CoreMLOptions(quantization="palettize6", float_layers=["Transformer_encoderblock_0"]).float_layers == (
        "Transformer_encoderblock_0",)
    with pytest.raises(UsageError, match="fp32 has none to keep"):
        CoreMLOptions(quantization="fp32", float_layers=["Transformer_encoderblock_0"])


def test_float_layers_belong_to_int8_dynamic_only():
    from edgevit.exporters.options import OnnxOptions

    assert OnnxOptions(quantization="int8-dynamic", float_layers=["Transformer_encoderblock_3"]).float_layers == (
        "Transformer_encoderblock_3",)
    with pytest.raises(UsageError, match="fp32 has none to keep"):
        OnnxOptions(quantization="fp32", float_layers=("Transformer_encoderblock_3",))
    with pytest.raises(UsageError, match="list of Keras layer names"):
        OnnxOptions(quantization="int8-dynamic", float_layers="Transformer_encoderblock_3")


def _search(count: int, *, passes_from: int | None, sizes=None, max_size=None):
    """search_float_count over a fake build: n float blocks pass from `passes_from` on; size n is sizes(n), and a
    mix over max_size is not built (None)."""
    from edgevit.fitgate import search_float_count

    built = []

    def build(n):
        built.append(n)
        size = (sizes or (lambda k: k))(n)
        return None if max_size is not None and size > max_size else SimpleNamespace(n=n, size=size)

    chosen = search_float_count(count, build, passes=lambda s: passes_from is not None and s.n >= passes_from)
    return (None if chosen is None else chosen.n), built


def test_the_search_finds_the_fewest_float_blocks_that_pass_in_logarithmic_builds():
    for count in (1, 4, 12, 24):
        for first_passing in range(1, count + 1):
            chosen, built = _search(count, passes_from=first_passing)
            assert chosen == first_passing, (count, first_passing, built)
            assert len(built) == len(set(built)) <= 2 * (count - 1).bit_length() + 1, (count, first_passing, built)
    assert _search(24, passes_from=13)[1] == [1, 2, 4, 8, 16, 12, 14, 13]


def test_a_search_nothing_passes_ends_with_every_block_float():
    assert _search(24, passes_from=None) == (None, [1, 2, 4, 8, 16, 24])
    assert _search(4, passes_from=None) == (None, [1, 2, 4])


def test_a_size_budget_caps_the_blocks_kept_float():
    # each float block adds 38 to 309: 4 blocks fit in 487, 5 do not (ViT-L/32's MB at 40% of the fp32 .tflite)
    sizes = lambda n: 309 + 38 * n  # noqa: E731
    assert _search(24, passes_from=None, sizes=sizes, max_size=487) == (None, [1, 2, 4, 8, 6, 5])
    assert _search(24, passes_from=3, sizes=sizes, max_size=487) == (3, [1, 2, 4, 3])
    assert _search(24, passes_from=4, sizes=sizes, max_size=487) == (4, [1, 2, 4, 3])
    assert _search(24, passes_from=6, sizes=sizes, max_size=487)[0] is None
    for budget in range(309, 309 + 38 * 25, 19):  # whatever the budget: the largest mix that fits was tried
        chosen, built = _search(24, passes_from=None, sizes=sizes, max_size=budget)
        largest = min(24, (budget - 309) // 38)
        assert chosen is None and (largest == 0 or largest in built), (budget, built)


def test_the_no_mix_line_gives_the_best_within_the_budget_or_says_nothing_fits():
    from edgevit.fitgate import Step, _no_mix_message

    steps = [Step((), 300_000_000, 0.97, "fail", 1.0), Step(("b0",), 350_000_000, 0.98, "fail", 1.0),
             Step(("b0", "b1"), 600_000_000, 0.99, "fail", 1.0)]
    line = _no_mix_message("tflite-dynamic", "valid", steps, 24, 400_000_000)
    assert "the best agreement reached within 400.000 MB is 98.00% at 350.000 MB (1 of 24 layers in float)" in line
    assert "the best agreement reached is 99.00% at 600.000 MB (2 of 24" in _no_mix_message("x", "valid", steps, 24, None)
    line = _no_mix_message("tflite-dynamic", "valid", steps, 24, 100_000_000)
    assert "fits within 100.000 MB: the fully quantized artifact alone is 300.000 MB; raise --max-size" in line
