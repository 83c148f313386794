"""aulib.inference.convert: the authors' released checkpoint layout onto the ``paper`` preset, and safe loading.

Independent truth: a reference network written here in the authors' style (string-named submodules as in
their ``FullNetwork`` and FAN's ``HourGlass``: ``add_module("b1_4", ...)``, ``m0``, ``top_m_0``, ``conv_last0``,
``bn_end0``, ``l0``; post-activation bottlenecks conv-bn-relu ×3 plus the residual; max pooling), saved the
way their training script saved it (``nn.DataParallel`` → ``module.`` prefix, inside a dict with other
entries, file name ``.pth.tar``). The converted aulib model must compute the same function.
(tests/test_hourglass.py checks the renaming against a functional re-implementation; this is a module one,
through the file format and the command line.)
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import randomise_batchnorm
from torch import nn

from aulib import cli
from aulib.inference.convert import (
    CheckpointMismatchError,
    UnsafeCheckpointError,
    convert_checkpoint,
    load_model_file,
    save_model_file,
)
from aulib.inference.model import AUModel
from aulib.models import count_parameters, create_model


class AuthorsBottleneck(nn.Module):
    """torchvision-style post-activation bottleneck, as in the authors' code."""

    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes // 2, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes // 2)
        self.conv2 = nn.Conv2d(planes // 2, planes // 2, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes // 2)
        self.conv3 = nn.Conv2d(planes // 2, planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, kernel_size=1, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        return self.relu(out + residual)


class AuthorsHourGlass(nn.Module):
    def __init__(self, depth: int, features: int) -> None:
        super().__init__()
        self.depth, self.features = depth, features
        self._generate_network(depth)

    def _generate_network(self, level: int) -> None:
        self.add_module("b1_" + str(level), AuthorsBottleneck(self.features, self.features))
        self.add_module("b2_" + str(level), AuthorsBottleneck(self.features, self.features))
        if level > 1:
            self._generate_network(level - 1)
        else:
            self.add_module("b2_plus_" + str(level), AuthorsBottleneck(self.features, self.features))
        self.add_module("b3_" + str(level), AuthorsBottleneck(self.features, self.features))

    def _forward(self, level: int, inp):
        up1 = self._modules["b1_" + str(level)](inp)
        low1 = F.max_pool2d(inp, 2, stride=2)
        low1 = self._modules["b2_" + str(level)](low1)
        if level > 1:
            low2 = self._forward(level - 1, low1)
        else:
            low2 = self._modules["b2_plus_" + str(level)](low1)
        low3 = self._modules["b3_" + str(level)](low2)
        up2 = F.interpolate(low3, scale_factor=2, mode="nearest")
        return up1 + up2

    def forward(self, x):
        return self._forward(self.depth, x)


class AuthorsFullNetwork(nn.Module):
    """One-stack FullNetwork of the authors' release: stem, hourglass m0, head, l0."""

    def __init__(self, num_maps: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = AuthorsBottleneck(64, 128)
        self.conv3 = AuthorsBottleneck(128, 128)
        self.conv4 = AuthorsBottleneck(128, 256)
        self.add_module("m0", AuthorsHourGlass(4, 256))
        self.add_module("top_m_0", AuthorsBottleneck(256, 256))
        self.add_module("conv_last0", nn.Conv2d(256, 256, kernel_size=1, stride=1, padding=0))
        self.add_module("bn_end0", nn.BatchNorm2d(256))
        self.add_module("l0", nn.Conv2d(256, num_maps, kernel_size=1, stride=1, padding=0))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), True)
        x = F.max_pool2d(self.conv2(x), 2)
        x = self.conv4(self.conv3(x))
        ll = self._modules["top_m_0"](self._modules["m0"](x))
        ll = F.relu(self._modules["bn_end0"](self._modules["conv_last0"](ll)), True)
        return self._modules["l0"](ll)


@pytest.fixture(scope="module")
def reference() -> AuthorsFullNetwork:
    torch.manual_seed(0)
    network = AuthorsFullNetwork()
    randomise_batchnorm(network)
    return network.eval()


def _save_authors_file(path, state_dict, **extra):
    # nn.DataParallel's keys, wrapped like the authors' training script saved them
    torch.save({"epoch": 12, "state_dict": {f"module.{k}": v for k, v in state_dict.items()}, **extra}, path)
    return path


def test_converted_model_computes_the_reference_function(tmp_path, reference):
    src = _save_authors_file(tmp_path / "authors-checkpoint.pth.tar", reference.state_dict())
    assert cli.main(["convert-checkpoint", str(src), "--out", str(tmp_path / "paper.pt")]) == 0
    meta = load_model_file(tmp_path / "paper.pt")
    assert (meta["preset"], meta["aus"], meta["alignment"], meta["crop_size"]) == ("paper", [6, 10, 12, 14, 17],
                                                                                   "paper", 256)
    loaded = AUModel.load(tmp_path / "paper.pt", device="cpu")
    assert count_parameters(loaded.module) == count_parameters(reference) == 3_416_197
    x = torch.randn(2, 3, 128, 128)
    with torch.inference_mode():
        expected = reference(x)
        got = loaded.module(x.contiguous(memory_format=torch.channels_last))
    assert expected.abs().max() > 0.1  # not a trivially zero output
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_checkpoints_without_batch_counters_convert(tmp_path, reference):
    # torch < 0.4.1 (the authors' era) saved no num_batches_tracked; eval-mode BatchNorm never reads them
    old = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    src = _save_authors_file(tmp_path / "old.pth.tar", old)
    convert_checkpoint(src, tmp_path / "old.pt")
    assert load_model_file(tmp_path / "old.pt")["preset"] == "paper"


def test_mismatches_are_listed_precisely(tmp_path, reference):
    state = dict(reference.state_dict())
    del state["m0.b2_plus_1.conv2.weight"]
    state["fc.weight"] = torch.zeros(3)
    state["m0.b3_4.bn3.bias"] = torch.zeros(128)
    src = _save_authors_file(tmp_path / "bad.pth.tar", state)
    with pytest.raises(CheckpointMismatchError) as info:
        convert_checkpoint(src, tmp_path / "bad.pt")
    message = str(info.value)
    assert "1 missing keys: hourglasses.0.inner.inner.inner.inner.conv2.weight" in message
    assert "1 unexpected keys: module.fc.weight" in message
    assert "1 shape mismatches: hourglasses.0.lower_out.bn3.bias (checkpoint (128,), model (256,))" in message
    assert not (tmp_path / "bad.pt").exists()


def test_wrong_number_of_aus_is_refused(tmp_path, reference):
    src = _save_authors_file(tmp_path / "a.pth.tar", reference.state_dict())
    with pytest.raises(ValueError, match=r"5 output channels but 3 AUs"):
        convert_checkpoint(src, tmp_path / "a.pt", aus=[1, 2, 4])


class Payload:
    """An arbitrary class instance: unpickling it would import and run this module's code."""


def test_pickled_code_is_refused(tmp_path, reference):
    src = _save_authors_file(tmp_path / "evil.pth.tar", reference.state_dict(), args=Payload())
    with pytest.raises(UnsafeCheckpointError, match="pickled Python code"):
        convert_checkpoint(src, tmp_path / "evil.pt")
    assert not (tmp_path / "evil.pt").exists()


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "junk.pth.tar").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pth\.tar.*not a readable torch checkpoint"):
        convert_checkpoint(tmp_path / "junk.pth.tar", tmp_path / "junk.pt")
    torch.save({"optimizer": {"lr": 0.1}}, tmp_path / "nostate.pth")
    with pytest.raises(ValueError, match=r"holds no state dict"):
        convert_checkpoint(tmp_path / "nostate.pth", tmp_path / "x.pt")


def test_model_file_round_trip_rejects_foreign_weights(tmp_path):
    model = create_model("tiny")
    with pytest.raises(CheckpointMismatchError, match="missing keys"):
        save_model_file(tmp_path / "m.pt", {k: v for k, v in model.state_dict().items() if "stem" not in k},
                        preset="tiny")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"not an aulib-model file"):
        load_model_file(tmp_path / "other.pt")
