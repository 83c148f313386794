"""Tests of the paper's baselines: ResNet-18 direct regression and one hourglass per AU."""

from __future__ import annotations

import doctest

import pytest
import torch
import torch.nn.functional as F
from helpers import randomise_batchnorm

from aulib.models import (
    MODELS,
    PRESETS,
    Hourglass,
    HourglassRegressor,
    PerAUHourglass,
    ResNetRegressor,
    count_parameters,
    create_model,
    gflops,
    per_au,
    preset_table,
    resnet,
    torchvision_to_aulib_state_dict,
)

# ---------------------------------------------------------------------------------------------------
# Independent truth: ResNet described layer by layer, by hand (He et al., 2016; torchvision's layout).
# ---------------------------------------------------------------------------------------------------


def _conv_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def _resnet_layers(*, num_outputs=5, layers=(2, 2, 2, 2), width=64, input_size=256):
    """Yield ("conv", k, c_in, c_out, side_out), ("bn", c) and ("fc", c_in, c_out) for the described ResNet."""
    side = _conv_side(input_size, 7, 2, 3)
    yield from [("conv", 7, 3, width, side), ("bn", width)]
    side = _conv_side(side, 3, 2, 1)  # 3×3/2 max-pool, padding 1
    c_in = width
    for stage, blocks in enumerate(layers):
        c_out = width * 2**stage
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            side = _conv_side(side, 3, stride, 1)
            yield from [("conv", 3, c_in, c_out, side), ("bn", c_out), ("conv", 3, c_out, c_out, side),
                        ("bn", c_out)]
            if stride != 1 or c_in != c_out:
                yield from [("conv", 1, c_in, c_out, side), ("bn", c_out)]
            c_in = c_out
    yield ("fc", c_in, num_outputs)  # after global average pooling


def _hand_resnet_params(**config) -> int:
    total = 0
    for layer in _resnet_layers(**config):
        if layer[0] == "conv":
            _, k, c_in, c_out, _ = layer
            total += k * k * c_in * c_out  # no bias: each conv is followed by a BN
        elif layer[0] == "bn":
            total += 2 * layer[1]
        else:
            total += layer[1] * layer[2] + layer[2]
    return total


def _hand_resnet_gflops(**config) -> float:
    """2 FLOP per MAC of every convolution and of the linear layer (nothing else is counted)."""
    macs = 0
    for layer in _resnet_layers(**config):
        if layer[0] == "conv":
            _, k, c_in, c_out, side = layer
            macs += k * k * c_in * c_out * side * side
        elif layer[0] == "fc":
            macs += layer[1] * layer[2]
    return 2 * macs / 1e9


def _meta(cls, **config):
    with torch.device("meta"):  # shapes only: counting needs no memory or computation
        return cls(**config)


# torchvision's resnet18 / resnet34 with the ImageNet fc (512 -> 1000: 513,000 parameters).
TORCHVISION_RESNET18, TORCHVISION_RESNET34, IMAGENET_FC = 11_689_512, 21_797_672, 512 * 1000 + 1000

RESNET_CONFIGS = [
    {},  # ResNet-18, 256
    {"input_size": 224},
    {"input_size": 128},
    {"layers": (3, 4, 6, 3)},  # ResNet-34
    {"layers": (1, 1), "width": 16, "num_outputs": 12, "input_size": 40},  # sizes that do not halve evenly
]


def _config_id(config: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items()) or "resnet18"


# ---------------------------------------------------------------------------------------------------
# ResNet-18 direct regression: size and cost
# ---------------------------------------------------------------------------------------------------


def test_resnet18_has_torchvisions_parameter_count_with_a_five_output_fc():
    expected = TORCHVISION_RESNET18 - IMAGENET_FC + (512 * 5 + 5)
    assert expected == 11_179_077
    assert _hand_resnet_params() == expected
    assert count_parameters(_meta(ResNetRegressor)) == expected
    assert count_parameters(_meta(ResNetRegressor, layers=(3, 4, 6, 3))) == (
        TORCHVISION_RESNET34 - IMAGENET_FC + (512 * 5 + 5))


@pytest.mark.parametrize("config", RESNET_CONFIGS, ids=_config_id)
def test_resnet_parameters_and_gflops_match_hand_derivation(config):
    model = _meta(ResNetRegressor, **config)
    assert count_parameters(model) == _hand_resnet_params(**config)
    assert gflops(model) == pytest.approx(_hand_resnet_gflops(**config), rel=1e-12)


def test_resnet18_gflops_match_the_published_figure():
    # ResNet-18 is quoted at 1.82 GMAC for a 224×224 image; every feature map of a 256×256 image is
    # (256/224)² larger (8×8 instead of 7×7 at the end), only the fc is not: 4.74 GFLOP.
    at_224, at_256 = gflops(_meta(ResNetRegressor), input_size=224), gflops(_meta(ResNetRegressor))
    assert at_224 == pytest.approx(2 * 1.82, rel=0.01)
    assert at_256 == pytest.approx(at_224 * (256 / 224) ** 2, rel=1e-5)
    assert at_256 == pytest.approx(4.737, abs=5e-4)


# ---------------------------------------------------------------------------------------------------
# ResNet-18 direct regression: function
# ---------------------------------------------------------------------------------------------------


def _torchvision_state_dict(layers=(2, 2, 2, 2), width=64, num_outputs=5) -> dict[str, torch.Tensor]:
    """Random weights under the key names and shapes of torchvision's ResNet with basic blocks."""
    generator = torch.Generator().manual_seed(3)
    sd: dict[str, torch.Tensor] = {}

    def conv(name, c_in, c_out, k):
        sd[f"{name}.weight"] = torch.randn(c_out, c_in, k, k, generator=generator) / (k * k * c_in) ** 0.5

    def bn(name, c):
        sd[f"{name}.weight"] = torch.rand(c, generator=generator) + 0.5
        sd[f"{name}.bias"] = torch.rand(c, generator=generator) - 0.5
        sd[f"{name}.running_mean"] = 0.2 * torch.randn(c, generator=generator)
        sd[f"{name}.running_var"] = torch.rand(c, generator=generator) + 0.5
        sd[f"{name}.num_batches_tracked"] = torch.tensor(0)

    conv("conv1", 3, width, 7)
    bn("bn1", width)
    c_in = width
    for stage, blocks in enumerate(layers, start=1):
        c_out = width * 2 ** (stage - 1)
        for index in range(blocks):
            name = f"layer{stage}.{index}"
            conv(f"{name}.conv1", c_in, c_out, 3)
            bn(f"{name}.bn1", c_out)
            conv(f"{name}.conv2", c_out, c_out, 3)
            bn(f"{name}.bn2", c_out)
            if stage > 1 and index == 0:
                conv(f"{name}.downsample.0", c_in, c_out, 1)
                bn(f"{name}.downsample.1", c_out)
            c_in = c_out
    sd["fc.weight"] = torch.randn(num_outputs, c_in, generator=generator) / c_in**0.5
    sd["fc.bias"] = torch.randn(num_outputs, generator=generator)
    return sd


def _torchvision_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, layers=(2, 2, 2, 2)) -> torch.Tensor:
    """torchvision's ResNet.forward (eval mode), written functionally on its key names."""

    def bn(name, t):
        return F.batch_norm(t, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
                            sd[f"{name}.bias"], training=False, eps=1e-5)

    t = F.relu(bn("bn1", F.conv2d(x, sd["conv1.weight"], stride=2, padding=3)))
    t = F.max_pool2d(t, kernel_size=3, stride=2, padding=1)
    for stage, blocks in enumerate(layers, start=1):
        for index in range(blocks):
            name, stride = f"layer{stage}.{index}", 2 if stage > 1 and index == 0 else 1
            out = F.relu(bn(f"{name}.bn1", F.conv2d(t, sd[f"{name}.conv1.weight"], stride=stride, padding=1)))
            out = bn(f"{name}.bn2", F.conv2d(out, sd[f"{name}.conv2.weight"], padding=1))
            if f"{name}.downsample.0.weight" in sd:
                t = bn(f"{name}.downsample.1", F.conv2d(t, sd[f"{name}.downsample.0.weight"], stride=stride))
            t = F.relu(out + t)
    return F.linear(t.mean(dim=(2, 3)), sd["fc.weight"], sd["fc.bias"])


@pytest.mark.parametrize("layers", [(2, 2, 2, 2), (1, 2)])
def test_resnet_has_torchvisions_layout_and_function(layers):
    sd = _torchvision_state_dict(layers=layers)
    model = ResNetRegressor(layers=layers, input_size=64).eval()
    # strict loading: same set of tensors, same shapes as torchvision's network
    model.load_state_dict(torchvision_to_aulib_state_dict(sd), strict=True)
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _torchvision_forward(sd, x, layers), rtol=1e-4, atol=1e-4)


def test_torchvision_state_dict_conversion():
    renamed = torchvision_to_aulib_state_dict({"module.bn1.running_var": torch.zeros(1),
                                               "layer1.1.bn2.bias": torch.zeros(1), "fc.bias": torch.zeros(1)})
    assert list(renamed) == ["stem.1.running_var", "stages.0.1.bn2.bias", "fc.bias"]
    with pytest.raises(KeyError, match=r"avgpool\.weight"):
        torchvision_to_aulib_state_dict({"avgpool.weight": torch.zeros(1)})


def test_resnet_presets_output_raw_intensities():
    for name, size in (("resnet18", 256), ("resnet18-small", 128)):
        model = create_model(name, num_maps=5).eval()
        assert isinstance(model, ResNetRegressor)
        assert (model.num_maps, model.num_outputs, model.input_size, model.output_kind) == (
            5, 5, size, "intensity")
        with torch.no_grad():
            out = model(torch.randn(2, 3, size, size))
        assert out.shape == (2, 5)
        assert torch.isfinite(out).all()
    # no clamp: a large enough bias goes straight through
    with torch.no_grad():
        model.fc.bias.fill_(-7.0)
        model.fc.weight.zero_()
        assert torch.equal(model(torch.randn(1, 3, 64, 64)), torch.full((1, 5), -7.0))


def test_resnet_takes_any_size_and_trains():
    model = create_model("resnet18-small", num_maps=12, layers=(1, 1, 1, 1))
    assert model(torch.randn(3, 3, 32, 48)).shape == (3, 12)
    model(torch.randn(2, 3, 64, 64)).square().mean().backward()
    assert model.stem[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("shape", "given"), [
    ((1, 1, 64, 64), "(1, 1, 64, 64)"),
    ((3, 64, 64), "(3, 64, 64)"),
    ((2, 3, 16, 64), "(2, 3, 16, 64)"),
])
def test_resnet_bad_input_shape_raises_a_clear_error(shape, given):
    model = ResNetRegressor(input_size=64)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)") as info:
        model(torch.zeros(shape))
    assert given in str(info.value) and "at least 32" in str(info.value)


@pytest.mark.parametrize("bad", [{"num_outputs": 0}, {"layers": ()}, {"layers": (2, 0)}, {"width": 0},
                                 {"input_size": 16}])
def test_resnet_bad_configuration_is_rejected(bad):
    with pytest.raises(ValueError):
        ResNetRegressor(**bad)


# ---------------------------------------------------------------------------------------------------
# One hourglass per AU
# ---------------------------------------------------------------------------------------------------

PAPER_5_MAPS = 3_416_197
PAPER_1_MAP = PAPER_5_MAPS - 4 * 257  # the last 1×1 conv 256→A has 256·A + A parameters


def test_per_au_paper_has_five_single_map_paper_hourglasses():
    assert PAPER_1_MAP == 3_415_169
    model = _meta(PerAUHourglass, num_maps=5, **PRESETS["paper"])
    assert count_parameters(model.networks[0]) == PAPER_1_MAP
    assert count_parameters(model) == 5 * PAPER_1_MAP == 17_075_845
    with torch.device("meta"):
        assert count_parameters(create_model("per-au-paper")) == 17_075_845


def test_per_au_costs_five_times_a_single_hourglass():
    # The paper's point: one hourglass for all AUs costs about a fifth of one hourglass per AU.
    with torch.device("meta"):
        single, per_au_model = create_model("paper", num_maps=5), create_model("per-au-paper", num_maps=5)
        one_map = create_model("paper", num_maps=1)
    assert gflops(per_au_model) == pytest.approx(5 * gflops(single), rel=0.01)
    assert gflops(per_au_model) == pytest.approx(5 * gflops(one_map), rel=1e-12)
    assert gflops(per_au_model) == pytest.approx(51.346, abs=5e-4)




SMALL = {"depth": 2, "width": 32, "input_size": 64}


def test_each_channel_is_a_standalone_single_map_hourglass():
    torch.manual_seed(0)
    model = PerAUHourglass(num_maps=3, stacks=2, **SMALL)
    randomise_batchnorm(model)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outputs = model.forward_stacks(x)
        assert torch.equal(model(x), outputs[-1])
        for a in range(3):
            standalone = Hourglass(num_maps=1, stacks=2, **SMALL).eval()
            standalone.load_state_dict(model.networks[a].state_dict(), strict=True)
            for got, expected in zip(outputs, standalone.forward_stacks(x), strict=True):
                assert got.shape == (2, 3, 16, 16)
                torch.testing.assert_close(got[:, a:a + 1], expected, rtol=0, atol=0)


def test_the_hourglasses_share_nothing():
    torch.manual_seed(0)
    model = PerAUHourglass(num_maps=3, **SMALL)
    assert len({p.data_ptr() for p in model.parameters()}) == len(list(model.parameters()))
    model(torch.randn(2, 3, 64, 64))[:, 1].square().mean().backward()
    grads = [sum(p.grad.abs().sum() for p in network.parameters() if p.grad is not None)
             for network in model.networks]
    assert grads[1] > 0 and grads[0] == 0 and grads[2] == 0


def test_per_au_presets_map_an_image_to_quarter_resolution_heatmaps():
    for name, size in (("per-au-tiny", 96), ("per-au-paper", 256)):  # the only forward at 256
        model = create_model(name, num_maps=5).eval()
        assert isinstance(model, PerAUHourglass)
        assert (model.num_maps, model.input_size, model.heatmap_size, model.stacks, model.output_kind) == (
            5, size, size // 4, 1, "heatmap")
        assert len(model.networks) == 5 and all(n.num_maps == 1 for n in model.networks)
        with torch.no_grad():
            out = model(torch.randn(1, 3, size, size))
        assert out.shape == (1, 5, size // 4, size // 4)
        assert torch.isfinite(out).all()


def test_per_au_overrides_and_non_square_inputs():
    model = create_model("per-au-tiny", num_maps=2, depth=2, stacks=2).eval()
    assert (len(model.networks), model.depth, model.stacks) == (2, 2, 2)
    with torch.no_grad():
        assert [o.shape for o in model.forward_stacks(torch.zeros(1, 3, 32, 64))] == [(1, 2, 8, 16)] * 2


@pytest.mark.parametrize(("shape", "given"), [((1, 1, 64, 64), "(1, 1, 64, 64)"),
                                              ((2, 3, 60, 64), "(2, 3, 60, 64)"),
                                              ((3, 64, 64), "(3, 64, 64)")])
def test_per_au_bad_input_shape_raises_a_clear_error(shape, given):
    model = PerAUHourglass(num_maps=2, **SMALL)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)") as info:
        model(torch.zeros(shape))
    assert given in str(info.value) and "divisible by 16" in str(info.value)


@pytest.mark.parametrize("bad", [{"num_maps": 0}, {"width": 30}, {"depth": 0}, {"input_size": 100}])
def test_per_au_bad_configuration_is_rejected(bad):
    with pytest.raises(ValueError):
        PerAUHourglass(**bad)


# ---------------------------------------------------------------------------------------------------
# Presets and generic interface
# ---------------------------------------------------------------------------------------------------


def test_every_preset_says_what_it_outputs():
    assert Hourglass.output_kind == PerAUHourglass.output_kind == "heatmap"
    assert ResNetRegressor.output_kind == "intensity"
    for name, preset in PRESETS.items():
        cls = MODELS[preset.get("model", "hourglass")]
        with torch.device("meta"):
            model = create_model(name, num_maps=7)
        assert type(model) is cls
        assert model.num_maps == 7 and model.input_size == preset["input_size"]
        assert model.output_kind == ("intensity" if cls in (ResNetRegressor, HourglassRegressor) else "heatmap")


@pytest.fixture(scope="module")
def table():
    return preset_table().set_index("preset")


@pytest.mark.parametrize("name", ["resnet18", "resnet18-small"])
def test_preset_table_resnet_rows_match_hand_derivation(table, name):
    config = {k: v for k, v in PRESETS[name].items() if k != "model"}
    row = table.loc[name]
    assert (row.input_size, row.heatmap_size, row.stacks, row.depth, row.width, row.block) == (
        config["input_size"], 0, 0, 18, 64, "basic")
    assert row.params == _hand_resnet_params(**config) == 11_179_077
    assert row.gflops == pytest.approx(_hand_resnet_gflops(**config), rel=1e-12)


@pytest.mark.parametrize(("name", "single"), [("per-au-paper", "paper"), ("per-au-tiny", "tiny")])
def test_preset_table_per_au_rows_are_five_single_map_hourglasses(table, name, single):
    with torch.device("meta"):
        one_map = create_model(single, num_maps=1)
    row, base = table.loc[name], table.loc[single]
    for column in ("input_size", "heatmap_size", "stacks", "depth", "width", "block"):
        assert row[column] == base[column]
    assert row.params == 5 * count_parameters(one_map)
    assert row.gflops == pytest.approx(5 * gflops(one_map), rel=1e-12)


def test_overrides_are_checked_per_model():
    assert create_model("resnet18", num_maps=3, layers=(1, 1, 1, 1), input_size=64).layers == (1, 1, 1, 1)
    with pytest.raises(TypeError, match=r"'depth'.*valid overrides: input_size, layers, width"):
        create_model("resnet18", depth=3)
    with pytest.raises(TypeError, match="'model'"):
        create_model("per-au-tiny", model="resnet")
    with pytest.raises(TypeError, match="'num_outputs'"):
        create_model("resnet18", num_outputs=3)


def test_presets_are_not_mutated_by_overrides():
    before = {k: dict(v) for k, v in PRESETS.items()}
    with torch.device("meta"):
        create_model("resnet18", layers=(1, 1), width=8)
        create_model("per-au-tiny", depth=2, stacks=2)
    assert before == PRESETS


def test_docstring_examples_run():
    for module in (per_au, resnet):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
