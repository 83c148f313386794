"""The ONNX Runtime backend: the same answers as PyTorch's fp32 on real and SynthAU faces, a cache keyed by the
weights, and the precision rules (no silent emulated bf16).

The truth is eager PyTorch in fp32, an independent implementation of the same network (ONNX Runtime has its own
kernels and its own graph optimiser), on crops aligned from a real photo and from SynthAU renders.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from skimage import data

from aulib.data.synthau import SynthConfig, render_still, subject_identity
from aulib.detect import create_detector
from aulib.inference import onnx, precision
from aulib.inference.convert import save_model_file
from aulib.inference.model import AUModel
from aulib.method.align import alignment_matrix, transform_points, warp_face
from aulib.models import create_model

pytestmark = pytest.mark.skipif(not onnx.available(), reason="onnxruntime / onnxscript not installed")


def realistic(preset: str) -> torch.nn.Module:
    """A network whose maps span about 0–5, like a trained one (random maps peak near 0.1 and hide differences)."""
    torch.manual_seed(0)
    model = create_model(preset)
    with torch.no_grad():
        model.to_maps[0].weight.mul_(30.0)
        model.to_maps[0].bias.fill_(1.0)
    return model.eval()


@pytest.fixture(scope="module")
def crops() -> tuple[np.ndarray, np.ndarray]:
    """Aligned crops: the astronaut (dlib landmarks) and three SynthAU subjects smiling and raising the chin."""
    images, points = [], []
    photo = data.astronaut()
    face = create_detector("dlib").detect_largest(photo)
    for image, landmarks in [(photo, face.points)] + [
        render_still(subject_identity(SynthConfig(), k), {12: 4.0, 17: 2.0}, SynthConfig()) for k in range(3)
    ]:
        matrix = alignment_matrix(landmarks)
        images.append(warp_face(image, matrix, 256))
        points.append(transform_points(landmarks, matrix).astype(np.float32))
    return np.stack(images), np.stack(points)


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_onnxruntime_answers_as_pytorch_fp32(tmp_path, crops, preset):
    path = save_model_file(tmp_path / f"{preset}.pt", realistic(preset).state_dict(), preset=preset)
    reference = AUModel.load(path, device="cpu", precision="fp32", backend="torch")
    runtime = AUModel.load(path, device="cpu", precision="fp32", backend="onnxruntime")
    assert runtime.backend.name == "onnxruntime" and reference.backend.name == "torch"
    expected, got = reference.predict_crops(*crops), runtime.predict_crops(*crops)
    assert float(expected.intensities.max()) > 1.0  # the maps are not trivially small
    # The project's tolerance is 0.01 on every AU value; the two runtimes agree far closer than that.
    np.testing.assert_allclose(got.intensities.numpy(), expected.intensities.numpy(), atol=1e-3)
    np.testing.assert_allclose(got.maps.numpy(), expected.maps.numpy(), atol=1e-3)
    np.testing.assert_allclose(got.peaks.numpy(), expected.peaks.numpy(), atol=0.05)


def test_the_graph_is_cached_next_to_the_weights_and_rebuilt_when_they_change(tmp_path):
    path = save_model_file(tmp_path / "tiny.pt", realistic("tiny").state_dict(), preset="tiny")
    first = AUModel.load(path, device="cpu", backend="onnxruntime").backend.path
    assert first.parent == tmp_path and first.name.startswith("tiny.pt.") and first.suffix == ".onnx"
    stamp = first.stat().st_mtime_ns
    assert AUModel.load(path, device="cpu", backend="onnxruntime").backend.path == first
    assert first.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again
    changed = realistic("tiny")
    with torch.no_grad():
        changed.to_maps[0].bias.fill_(2.0)
    save_model_file(path, changed.state_dict(), preset="tiny")
    second = AUModel.load(path, device="cpu", backend="onnxruntime")
    assert second.backend.path != first and not first.exists()  # new weights, new graph; the stale one is gone
    x = torch.rand(1, 3, 96, 96)
    with torch.inference_mode():
        expected = changed(x).amax(dim=(-2, -1)).clamp(0, 5)
    np.testing.assert_allclose(second.predict(x).intensities.numpy(), expected.numpy(), atol=1e-3)


def test_auto_picks_onnxruntime_for_fp32_and_torch_for_bf16(tmp_path):
    path = save_model_file(tmp_path / "tiny.pt", realistic("tiny").state_dict(), preset="tiny")
    assert AUModel.load(path, device="cpu", backend="auto").backend.name == "onnxruntime"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CPU without native bf16 warns; checked below
        assert AUModel.load(path, device="cpu", precision="bf16", backend="auto").backend.name == "torch"
    with pytest.raises(ValueError, match="fp32 only"):
        AUModel.load(path, device="cpu", precision="bf16", backend="onnxruntime")


def test_explicit_bf16_on_a_cpu_without_native_bf16_warns_with_its_cost(monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match=r"no native bf16.*1-13 s per image"):
        assert precision.resolve_precision("bf16", torch.device("cpu")) == torch.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto never picks the emulated path, and says nothing
        assert precision.resolve_precision("auto", torch.device("cpu")) is None
        assert precision.autocast_dtype("auto", torch.device("cpu")) is None
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.autocast_dtype("auto", torch.device("cpu")) == torch.bfloat16  # training on native bf16


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_onnxruntime_on_cuda_matches_the_cpu(tmp_path, crops):
    path = save_model_file(tmp_path / "paper.pt", realistic("paper").state_dict(), preset="paper")
    cpu = AUModel.load(path, device="cpu", backend="onnxruntime").predict_crops(*crops)
    gpu = AUModel.load(path, device="cuda", precision="fp32", backend="onnxruntime")
    np.testing.assert_allclose(gpu.predict_crops(*crops).intensities.cpu().numpy(), cpu.intensities.numpy(),
                               atol=0.01)
