"""Tests of aulib.models: the hourglass against hand-derived counts, FAN and the authors' layout."""

from __future__ import annotations

import doctest
import re

import pytest
import torch
import torch.nn.functional as F
from helpers import randomise_batchnorm

import aulib.models
from aulib.models import (
    PRESETS,
    Hourglass,
    blocks,
    complexity,
    count_parameters,
    create_model,
    fan_to_aulib_state_dict,
    gflops,
    hourglass,
    preset_table,
    presets,
)

# ---------------------------------------------------------------------------------------------------
# Independent truth: the architecture description turned into a list of layers, by hand.
# ---------------------------------------------------------------------------------------------------


def _layers(*, num_maps=5, stacks=1, depth=4, width=256, block="bottleneck", input_size=256):
    """Yield ("conv", k, c_in, c_out, bias, side_out) and ("bn", c) for the described network."""

    def bottleneck(c_in, c_out, side):
        mid = c_out // 2
        yield from [("conv", 1, c_in, mid, False, side), ("bn", mid), ("conv", 3, mid, mid, False, side),
                    ("bn", mid), ("conv", 1, mid, c_out, False, side), ("bn", c_out)]
        if c_in != c_out:
            yield from [("conv", 1, c_in, c_out, False, side), ("bn", c_out)]

    def convblock(c_in, c_out, side):
        half, quarter = c_out // 2, c_out // 4
        yield from [("bn", c_in), ("conv", 3, c_in, half, False, side), ("bn", half),
                    ("conv", 3, half, quarter, False, side), ("bn", quarter),
                    ("conv", 3, quarter, quarter, False, side)]
        if c_in != c_out:
            yield from [("bn", c_in), ("conv", 1, c_in, c_out, False, side)]

    blk = {"bottleneck": bottleneck, "convblock": convblock}[block]
    side = input_size // 2  # after the stride-2 7×7 conv
    yield from [("conv", 7, 3, 64, True, side), ("bn", 64)]
    yield from blk(64, 128, side)
    side //= 2  # pooling
    yield from blk(128, 128, side)
    yield from blk(128, width, side)
    for stack in range(stacks):
        # level L: upper block at side, then lower_in, [inner], lower_out at side / 2
        for level in range(depth, 0, -1):
            level_side = side // 2 ** (depth - level)
            yield from blk(width, width, level_side)
            yield from blk(width, width, level_side // 2)
            yield from blk(width, width, level_side // 2)
            if level == 1:
                yield from blk(width, width, level_side // 2)
        yield from blk(width, width, side)
        yield from [("conv", 1, width, width, True, side), ("bn", width),
                    ("conv", 1, width, num_maps, True, side)]
        if stack < stacks - 1:
            yield from [("conv", 1, width, width, True, side), ("conv", 1, num_maps, width, True, side)]


def _hand_params(**config) -> int:
    total = 0
    for layer in _layers(**config):
        if layer[0] == "conv":
            _, k, c_in, c_out, bias, _ = layer
            total += k * k * c_in * c_out + (c_out if bias else 0)
        else:
            total += 2 * layer[1]  # BN affine weight and bias
    return total


def _hand_gflops(**config) -> float:
    """2 FLOP per MAC of every convolution (biases, BN, ReLU, pooling, sums are not counted)."""
    macs = sum(k * k * c_in * c_out * side * side
               for kind, k, c_in, c_out, _, side in (la for la in _layers(**config) if la[0] == "conv"))
    return 2 * macs / 1e9


CONFIGS = [
    {},  # paper
    {"depth": 2, "width": 64, "input_size": 64},
    {"stacks": 2},
    {"stacks": 3, "depth": 3, "width": 128, "num_maps": 12, "input_size": 128},
    {"block": "convblock", "depth": 2, "width": 64, "input_size": 64},
    {"block": "convblock", "stacks": 2, "num_maps": 68},
]


def _meta_model(**config) -> Hourglass:
    with torch.device("meta"):  # shapes only: counting needs no memory or computation
        return Hourglass(**config)


# ---------------------------------------------------------------------------------------------------
# Size and cost
# ---------------------------------------------------------------------------------------------------


def test_paper_has_the_published_parameter_count():
    assert count_parameters(create_model("paper", num_maps=5)) == 3_416_197
    assert _hand_params() == 3_416_197


def _config_id(config: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items()) or "paper"


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_parameter_count_matches_hand_derivation(config):
    assert count_parameters(_meta_model(**config)) == _hand_params(**config)


@pytest.mark.parametrize("config", CONFIGS[:4], ids=_config_id)
def test_gflops_match_hand_derivation(config):
    assert gflops(_meta_model(**config)) == pytest.approx(_hand_gflops(**config), rel=1e-12)


def test_paper_gflops():
    assert gflops(create_model("paper")) == pytest.approx(10.28, rel=0.01)


def test_gflops_of_a_single_conv_follows_the_formula():
    conv = torch.nn.Conv2d(3, 16, kernel_size=5, stride=1, padding=2, bias=True)
    assert gflops(conv, input_size=40) == pytest.approx(2 * 3 * 16 * 5 * 5 * 40 * 40 / 1e9, rel=1e-12)
    assert gflops(conv, input_size=(20, 40)) == pytest.approx(2 * 3 * 16 * 5 * 5 * 20 * 40 / 1e9, rel=1e-12)
    with pytest.raises(ValueError, match="input_size"):
        gflops(conv)


def test_count_parameters_ignores_frozen_parameters():
    conv = torch.nn.Conv2d(3, 8, kernel_size=3)
    conv.bias.requires_grad_(False)
    assert count_parameters(conv) == 3 * 8 * 9


def test_gflops_leaves_training_mode_and_batchnorm_statistics_alone():
    model = create_model("tiny").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gflops(model)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_preset_table_matches_the_documented_table():
    table = preset_table()
    assert list(table.columns) == ["preset", "input_size", "heatmap_size", "stacks", "depth", "width",
                                   "block", "params", "gflops"]
    assert list(table["preset"]) == list(PRESETS)
    rows = {m.group(1): m.groups() for m in re.finditer(
        r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\w+)\s+(\w+)\s+([\d,]+)\s+([\d.]+)$",
        presets.__doc__, flags=re.MULTILINE)}
    assert set(rows) == set(PRESETS)
    for row in table.itertuples():
        _, size, heat, stacks, depth, width, block, _, params, gf = rows[row.preset]
        assert (row.input_size, row.heatmap_size, row.stacks, row.depth, row.width, row.block) == (
            int(size), int(heat), int(stacks), int(depth), int(width), block)
        assert row.params == int(params.replace(",", ""))
        assert row.gflops == pytest.approx(float(gf), abs=5e-4)
        config = {k: v for k, v in PRESETS[row.preset].items() if k not in ("pool", "model")}
        kind = PRESETS[row.preset].get("model", "hourglass")
        if kind == "hourglass":
            assert row.params == _hand_params(**config)
        elif kind == "per-au":  # five independent single-map hourglasses
            assert row.params == 5 * _hand_params(**config, num_maps=1)
        elif kind == "direct":  # the Hourglass whose 1×1 map conv became a linear layer of the same size
            assert row.params == _hand_params(**config)
        else:  # the ResNet rows are derived by hand in tests/test_baselines.py
            assert kind == "resnet"


# ---------------------------------------------------------------------------------------------------
# Shapes and interface
# ---------------------------------------------------------------------------------------------------


HOURGLASS_PRESETS = [name for name, preset in PRESETS.items() if preset.get("model", "hourglass") == "hourglass"]


def test_the_original_presets_are_hourglasses():
    assert HOURGLASS_PRESETS == ["paper", "paper-fan", "small", "tiny"]


# The baselines (ResNet, one hourglass per AU) are exercised in tests/test_baselines.py.
@pytest.mark.parametrize("name", HOURGLASS_PRESETS)
def test_every_preset_maps_an_image_to_quarter_resolution_heatmaps(name):
    model = create_model(name).eval()
    size = PRESETS[name]["input_size"]
    assert (model.num_maps, model.input_size, model.heatmap_size, model.stacks, model.output_kind) == (
        5, size, size // 4, PRESETS[name]["stacks"], "heatmap")
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, 5, size // 4, size // 4)
    assert torch.isfinite(out).all()


def test_stacks_give_intermediate_outputs_and_forward_is_the_last():
    model = create_model("tiny", num_maps=7, stacks=2).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        outputs = model.forward_stacks(x)
        last = model(x)
    assert len(outputs) == 2
    assert all(o.shape == (2, 7, 24, 24) for o in outputs)
    assert torch.equal(outputs[-1], last)
    assert not torch.allclose(outputs[0], outputs[1])


def test_num_maps_and_non_square_inputs():
    model = create_model("tiny", num_maps=12).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 128)).shape == (1, 12, 16, 32)


def test_gradients_reach_the_first_layer():
    model = create_model("tiny", stacks=2)
    sum(o.square().mean() for o in model.forward_stacks(torch.randn(2, 3, 96, 96))).backward()
    assert model.stem[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("shape", "given"), [
    ((1, 1, 256, 256), "(1, 1, 256, 256)"),
    ((2, 3, 250, 250), "(2, 3, 250, 250)"),
    ((3, 256, 256), "(3, 256, 256)"),
])
def test_bad_input_shape_raises_a_clear_error(shape, given):
    model = create_model("paper")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)") as info:
        model(torch.zeros(shape))
    assert given in str(info.value) and "divisible by 64" in str(info.value)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"paper.*paper-fan.*small.*tiny"):
        create_model("huge")


def test_unknown_override_is_named():
    with pytest.raises(TypeError, match="'widht'"):
        create_model("tiny", widht=32)
    assert create_model("tiny", width=32, depth=2).width == 32


@pytest.mark.parametrize("bad", [{"width": 30}, {"depth": 0}, {"stacks": 0}, {"num_maps": 0},
                                 {"block": "resnet"}, {"pool": "min"}, {"input_size": 100}])
def test_bad_configuration_is_rejected(bad):
    with pytest.raises(ValueError):
        Hourglass(**bad)


def test_presets_are_not_mutated_by_overrides():
    before = {k: dict(v) for k, v in PRESETS.items()}
    create_model("small", depth=2, stacks=2)
    assert before == PRESETS


# ---------------------------------------------------------------------------------------------------
# Same function as the reference networks
# ---------------------------------------------------------------------------------------------------




@pytest.mark.parametrize("stacks", [1, 2])
def test_convblock_variant_is_fan(stacks):
    fan = pytest.importorskip("face_alignment.models.fan")
    torch.manual_seed(0)
    reference = fan.FAN(num_modules=stacks)
    randomise_batchnorm(reference)
    reference.eval()
    model = create_model("paper-fan", num_maps=68, stacks=stacks).eval()
    model.load_state_dict(fan_to_aulib_state_dict(reference.state_dict()), strict=True)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected, got = reference(x), model.forward_stacks(x)
    assert len(got) == len(expected) == stacks
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def _authors_state_dict(num_maps: int, depth: int = 4) -> dict[str, torch.Tensor]:
    """Random weights under the key names and shapes of the authors' released ``FullNetwork``."""
    generator = torch.Generator().manual_seed(2)
    sd: dict[str, torch.Tensor] = {}

    def conv(name, c_in, c_out, k, bias):
        sd[f"{name}.weight"] = torch.randn(c_out, c_in, k, k, generator=generator) / (k * k * c_in) ** 0.5
        if bias:
            sd[f"{name}.bias"] = 0.1 * torch.randn(c_out, generator=generator)

    def bn(name, c):
        sd[f"{name}.weight"] = torch.rand(c, generator=generator) + 0.5
        sd[f"{name}.bias"] = torch.rand(c, generator=generator) - 0.5
        sd[f"{name}.running_mean"] = 0.2 * torch.randn(c, generator=generator)
        sd[f"{name}.running_var"] = torch.rand(c, generator=generator) + 0.5
        sd[f"{name}.num_batches_tracked"] = torch.tensor(0)

    def bottleneck(name, c_in, c_out):
        conv(f"{name}.conv1", c_in, c_out // 2, 1, False)
        bn(f"{name}.bn1", c_out // 2)
        conv(f"{name}.conv2", c_out // 2, c_out // 2, 3, False)
        bn(f"{name}.bn2", c_out // 2)
        conv(f"{name}.conv3", c_out // 2, c_out, 1, False)
        bn(f"{name}.bn3", c_out)
        if c_in != c_out:
            conv(f"{name}.downsample.0", c_in, c_out, 1, False)
            bn(f"{name}.downsample.1", c_out)

    conv("conv1", 3, 64, 7, True)
    bn("bn1", 64)
    bottleneck("conv2", 64, 128)
    bottleneck("conv3", 128, 128)
    bottleneck("conv4", 128, 256)
    for level in range(depth, 0, -1):
        for branch in ("b1", "b2", "b3") if level > 1 else ("b1", "b2", "b2_plus", "b3"):
            bottleneck(f"m0.{branch}_{level}", 256, 256)
    bottleneck("top_m_0", 256, 256)
    conv("conv_last0", 256, 256, 1, True)
    bn("bn_end0", 256)
    conv("l0", 256, num_maps, 1, True)
    return sd


def _authors_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, depth: int = 4) -> torch.Tensor:
    """The authors' FullNetwork.forward (one stack), written functionally on their key names."""

    def conv(name, t, padding=0, stride=1):
        return F.conv2d(t, sd[f"{name}.weight"], sd.get(f"{name}.bias"), stride=stride, padding=padding)

    def bn(name, t):
        return F.batch_norm(t, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
                            sd[f"{name}.bias"], training=False, eps=1e-5)

    def bottleneck(name, t):
        out = F.relu(bn(f"{name}.bn1", conv(f"{name}.conv1", t)))
        out = F.relu(bn(f"{name}.bn2", conv(f"{name}.conv2", out, padding=1)))
        out = bn(f"{name}.bn3", conv(f"{name}.conv3", out))
        if f"{name}.downsample.0.weight" in sd:
            t = bn(f"{name}.downsample.1", conv(f"{name}.downsample.0", t))
        return F.relu(out + t)

    def level(n, t):
        up1 = bottleneck(f"m0.b1_{n}", t)
        low = bottleneck(f"m0.b2_{n}", F.max_pool2d(t, 2, stride=2))
        low = level(n - 1, low) if n > 1 else bottleneck(f"m0.b2_plus_{n}", low)
        low = bottleneck(f"m0.b3_{n}", low)
        return up1 + low.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # nearest ×2

    t = F.relu(bn("bn1", conv("conv1", x, padding=3, stride=2)))
    t = F.max_pool2d(bottleneck("conv2", t), 2)
    t = bottleneck("conv4", bottleneck("conv3", t))
    t = bottleneck("top_m_0", level(depth, t))
    t = F.relu(bn("bn_end0", conv("conv_last0", t)))
    return conv("l0", t)


def test_paper_model_has_the_authors_layout_and_function():
    sd = _authors_state_dict(num_maps=5)
    model = create_model("paper", num_maps=5).eval()
    # strict loading: same set of tensors, same shapes, as the authors' released network
    model.load_state_dict(fan_to_aulib_state_dict(sd), strict=True)
    assert sum(v.numel() for k, v in sd.items() if k.endswith(("weight", "bias"))) == 3_416_197
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _authors_forward(sd, x), rtol=1e-4, atol=1e-4)


def test_state_dict_conversion_rejects_foreign_keys():
    with pytest.raises(KeyError, match=r"fc\.weight"):
        fan_to_aulib_state_dict({"fc.weight": torch.zeros(1)})
    renamed = fan_to_aulib_state_dict({"module.m1.b3_2.bn3.bias": torch.zeros(1)}, depth=4)
    assert list(renamed) == ["hourglasses.1.inner.inner.lower_out.bn3.bias"]


def test_docstring_examples_run():
    for module in (aulib.models, blocks, complexity, hourglass, presets):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


# ---------------------------------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    torch.manual_seed(0)
    model = create_model("tiny", stacks=2).eval()
    randomise_batchnorm(model)
    x = torch.randn(2, 3, 96, 96)
    # TF32 convolutions/matmuls would differ from fp32 by ~1e-3; compare true fp32.
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.no_grad():
            expected = model.forward_stacks(x)
            got = model.cuda().forward_stacks(x.cuda())
            assert gflops(model) == pytest.approx(gflops(model.cpu()), rel=1e-12)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old
    for e, g in zip(expected, got, strict=True):
        assert g.device.type == "cuda"
        torch.testing.assert_close(g.cpu(), e, rtol=1e-4, atol=1e-4)
