"""Training and evaluation on a tiny SynthAU set: exact resume, NaN handling, masking, selection, evaluation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import pingouin_icc_columns, prepared_synthau

from aulib.evaluation.evaluate import evaluate
from aulib.training.config import TrainConfig, split_validation
from aulib.training.loss import masked_loss
from aulib.training.trainer import Trainer, TrainingDiverged, train


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepared_synthau(tmp_path_factory.mktemp("train"), subjects=6, frames=12, seed=4)


def config(prepared, out, **overrides) -> TrainConfig:
    options = {"epochs": 2, "batch_size": 8, "checkpoint_every": 2, "device": "cpu", **overrides}
    return TrainConfig.from_profile("smoke", data=str(prepared), out=str(out), **options)


def read_losses(run) -> list[float]:
    return pd.read_csv(run / "steps.csv")["loss"].tolist()


def test_resume_continues_exactly(prepared, tmp_path, monkeypatch):
    """A run killed in the middle of an epoch and resumed equals the uninterrupted run: the same losses, the same
    per-epoch table, the same epoch kept as best.pt, and the same final weights."""
    options = {"epochs": 3}
    straight = tmp_path / "straight"
    train(config(prepared, straight, **options), progress=False)
    steps_per_epoch = len(Trainer(config(prepared, straight, **options)).train_set) // 8
    assert steps_per_epoch == 4 and len(read_losses(straight)) == 12
    interrupted = tmp_path / "interrupted"
    original = Trainer.compute_loss
    calls = {"n": 0}

    def crash_on_seventh_step(self, batch):  # step 6 is checkpointed (every 2), in the middle of epoch 2
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Trainer, "compute_loss", crash_on_seventh_step)
    with pytest.raises(KeyboardInterrupt):
        train(config(prepared, interrupted, **options), progress=False)
    monkeypatch.setattr(Trainer, "compute_loss", original)
    assert torch.load(interrupted / "last.pt", weights_only=True)["step"] == 6  # mid-epoch: 6 is not a multiple of 4
    train(config(prepared, interrupted, **options), resume=True, progress=False)
    assert read_losses(interrupted) == read_losses(straight)  # bit for bit, on the CPU
    timing = ["train_images_per_s"]
    pd.testing.assert_frame_equal(pd.read_csv(interrupted / "training.csv").drop(columns=timing),
                                  pd.read_csv(straight / "training.csv").drop(columns=timing))
    for name in ("best.pt", "last.pt"):
        mine, theirs = (torch.load(run / name, weights_only=True) for run in (interrupted, straight))
        assert mine["step"] == theirs["step"] and mine["best_icc"] == theirs["best_icc"], name
        for key, value in theirs["model"].items():
            assert torch.equal(mine["model"][key], value), f"{name}: {key} differs"


def test_best_checkpoint_is_the_best_validated_epoch_after_a_resume(prepared, tmp_path, monkeypatch):
    """last.pt carries the best score so far, so a run resumed from any epoch keeps the truly best epoch in best.pt:
    the epoch with the highest validation ICC of training.csv."""
    run = tmp_path / "select"
    original = Trainer.compute_loss
    calls = {"n": 0}

    def crash_after_epoch_one(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Trainer, "compute_loss", crash_after_epoch_one)
    with pytest.raises(KeyboardInterrupt):
        train(config(prepared, run, epochs=3), progress=False)
    monkeypatch.setattr(Trainer, "compute_loss", original)
    last = torch.load(run / "last.pt", weights_only=True)
    history = pd.read_csv(run / "training.csv")
    assert last["step"] == 4 and last["best_icc"] == pytest.approx(history.val_icc_mean.iloc[0])
    train(config(prepared, run, epochs=3), resume=True, progress=False)
    history = pd.read_csv(run / "training.csv")
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["step"] == 4 * (int(history.val_icc_mean.idxmax()) + 1)
    assert best["best_icc"] == pytest.approx(history.val_icc_mean.max())


def test_a_run_that_dies_while_validating_validates_that_epoch_after_the_resume(prepared, tmp_path, monkeypatch):
    # checkpoint_every 4 falls on the epoch's last step: the epoch must still be validated and selected after a resume
    import aulib.training.trainer as trainer_module

    run = tmp_path / "validating"
    original = trainer_module.predict_intensities
    calls = {"n": 0}

    def die_in_the_second_validation(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "predict_intensities", die_in_the_second_validation)
    with pytest.raises(KeyboardInterrupt):
        train(config(prepared, run, epochs=3, checkpoint_every=4), progress=False)
    monkeypatch.setattr(trainer_module, "predict_intensities", original)
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 4  # epoch 1's, not the unvalidated epoch 2's
    train(config(prepared, run, epochs=3, checkpoint_every=4), resume=True, progress=False)
    history = pd.read_csv(run / "training.csv")
    assert history.epoch.tolist() == [1, 2, 3] and history.val_icc_mean.notna().all()


def test_same_seed_same_run_and_other_runs_are_refused(prepared, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    train(config(prepared, first, max_steps=3), progress=False)
    train(config(prepared, second, max_steps=3), progress=False)
    assert read_losses(first) == read_losses(second)
    with pytest.raises(FileExistsError, match="resume"):
        train(config(prepared, first, max_steps=3), progress=False)
    with pytest.raises(FileExistsError, match="another run"):
        train(config(prepared, first, max_steps=3, lr=1e-4), progress=False)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(prepared, tmp_path, monkeypatch):
    run = tmp_path / "nan"
    original = Trainer.compute_loss
    calls = {"n": 0}

    def nan_on_third_step(self, batch):
        calls["n"] += 1
        loss = original(self, batch)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(Trainer, "compute_loss", nan_on_third_step)
    with pytest.raises(TrainingDiverged, match="step 3"):
        train(config(prepared, run), progress=False)
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_masked_labels_do_not_count():
    prediction = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[1.5, 99.0], [3.0, 2.0]])  # 99 is an invalid label under the mask
    mask = torch.tensor([[True, False], [True, True]])
    # Hand-computed MSE over the three valid entries: (0.25 + 0 + 4) / 3.
    assert masked_loss(prediction, target, mask, "l2").item() == pytest.approx(4.25 / 3)
    huber = masked_loss(prediction, target, mask, "huber").item()
    assert huber == pytest.approx((0.125 + 0 + 1.5) / 3)  # 0.5·0.5² ; |2| − 0.5
    maps = torch.zeros(2, 2, 4, 4)
    assert masked_loss(maps, maps + 1, torch.zeros(2, 2, dtype=torch.bool), "huber").item() == 0.0
    # Foreground weighting: one target pixel of 2 among 4 → squared error 4 there, weighted ×10, mean over 4 pixels.
    target = torch.zeros(1, 1, 2, 2)
    target[0, 0, 0, 0] = 2.0
    valid = torch.ones(1, 1, dtype=torch.bool)
    zeros = torch.zeros_like(target)
    assert masked_loss(zeros, target, valid, "l2").item() == pytest.approx(1.0)
    assert masked_loss(zeros, target, valid, "l2", foreground_weight=10).item() == pytest.approx(10.0)


def test_validation_subjects_come_from_training_subjects_only(prepared):
    trainer = Trainer(config(prepared, "unused"), progress=False)
    splits = trainer.full.meta["splits"]
    train_subjects, val_subjects = split_validation(trainer.full, trainer.config)
    assert val_subjects and not set(train_subjects) & set(val_subjects)
    assert all(splits[s] in ("train", "val") for s in train_subjects + val_subjects)
    assert not {s for s, name in splits.items() if name == "test"} & set(train_subjects + val_subjects)



def test_train_subjects_keeps_the_first_subjects_and_the_validation_set(prepared, tmp_path):
    """The training-set-size regime (aulib.course.data_size): the first n training subjects by name, the smaller set
    inside the larger, validation unchanged; the trainer then counts only their frames."""
    meta = json.loads((prepared / "meta.json").read_text())
    train_names = sorted(s for s, name in meta["splits"].items() if name == "train")
    val_names = sorted(s for s, name in meta["splits"].items() if name == "val")
    assert len(train_names) >= 2 and val_names
    one = Trainer(config(prepared, tmp_path / "one", train_subjects=1), progress=False)
    assert split_validation(one.full, one.config) == (train_names[:1], val_names)
    assert len(one.train_set) == 12 and one.steps_per_epoch == 12 // 8  # one subject's 12 frames
    everyone = split_validation(one.full, config(prepared, "unused"))
    assert everyone == (train_names, val_names)
    with pytest.raises(ValueError, match=f"train_subjects={len(train_names) + 1}: .* {len(train_names)} training"):
        split_validation(one.full, config(prepared, "unused", train_subjects=len(train_names) + 1))
    # a run saved before the field existed still matches its config.json (a resume compares them)
    assert "train_subjects" not in config(prepared, "unused").to_json()
    assert config(prepared, "unused", train_subjects=1).to_json()["train_subjects"] == 1

def test_evaluate_writes_predictions_and_consistent_metrics(prepared, tmp_path):
    run = tmp_path / "eval"
    history = train(config(prepared, run), progress=False)
    assert {"epoch", "train_loss", "val_icc_mean", "val_icc_AU12"} <= set(history.columns)
    assert json.loads((run / "config.json").read_text())["model"] == "tiny"
    metrics = evaluate(run, device="cpu")
    predictions = pd.read_csv(run / "predictions.csv")
    test_subjects = {s for s, n in json.loads((prepared / "meta.json").read_text())["splits"].items() if n == "test"}
    assert set(predictions.subject) == test_subjects
    truth = predictions.filter(like="true_").to_numpy()
    predicted = predictions.filter(like="pred_").to_numpy()
    assert ((predicted >= 0) & (predicted <= 5)).all()
    np.testing.assert_allclose(metrics.loc[["AU06", "AU10", "AU12", "AU14", "AU17"], "ICC"].to_numpy(),
                               pingouin_icc_columns(truth, predicted), atol=1e-9, equal_nan=True)
    assert list(metrics.index)[-1] == "Mean" and "LocErr64" in metrics.columns
    peaks = predictions.filter(like="peak_x_").to_numpy()
    assert ((peaks >= 0) & (peaks <= 63)).all()  # peaks reported on the 64×64 grid
    assert (run / "metrics.md").read_text().startswith("| AU |")


def test_robustness_is_seeded_and_degrades_with_noise(prepared, tmp_path):
    from aulib.course.reference import reference_model
    from aulib.evaluation.evaluate import predict_frames
    from aulib.evaluation.robustness import robustness

    run = tmp_path / "robust"
    train(config(prepared, run, epochs=1), progress=False)
    table = robustness(run, sigmas=[0, 40], device="cpu", progress=False)
    again = robustness(run, sigmas=[0, 40], device="cpu", progress=False)
    pd.testing.assert_frame_equal(table, again)
    assert set(table.columns) == {"model", "sigma", "unit", "sigma_iod", "AU", "ICC", "MAE"}
    assert set(table.AU) == {"AU06", "AU10", "AU12", "AU14", "AU17", "Mean"}
    # σ = 0 reproduces the evaluation's predictions (same alignment, same crops).
    frames, _ = predict_frames(run, device="cpu")
    clean = table[(table.sigma == 0) & (table.AU != "Mean")].set_index("AU")["MAE"]
    truth, predicted = frames.filter(like="true_").to_numpy(), frames.filter(like="pred_").to_numpy()
    np.testing.assert_allclose(clean.to_numpy(), np.abs(truth - predicted).mean(axis=0), atol=1e-2)
    # A model that has learnt the task (the reference Hourglass, 8 epochs) loses most of its agreement when the
    # landmarks miss by 40 px, half an inter-ocular distance: the crop no longer frames the face the same way.
    curve = robustness(reference_model(), data=prepared, sigmas=[0, 40], device="cpu", progress=False,
                       out=tmp_path / "reference")
    mean = curve[curve.AU == "Mean"].set_index("sigma").ICC
    assert mean[0] > 0.6 and mean[40] < 0.6 * mean[0], mean.to_dict()


def test_ddp_on_two_cpu_processes_matches_one_process(prepared, tmp_path):
    """torchrun with the gloo backend: 2 processes sharing each batch train the same model as 1 process.

    Each process normalises with its own half-batch statistics (SyncBatchNorm is a GPU feature) and Adam's first
    steps move every weight by about ±lr whatever the gradient's size, so the runs agree only loosely: here the
    data-parallel weights must land far closer to the single-process ones than a run with another seed does.
    """
    import os
    import subprocess
    import sys

    from aulib.cli import main

    options = ["--data", str(prepared), "--profile", "smoke", "--device", "cpu", "--max-steps", "3",
               "--batch-size", "16", "--no-augment", "--precision", "fp32"]
    assert main(["train", "--out", str(tmp_path / "single"), *options]) == 0
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    "--module", "aulib", "train", "--out", str(tmp_path / "ddp"), *options],
                   env=environment, check=True, timeout=600, capture_output=True)
    assert main(["train", "--out", str(tmp_path / "other-seed"), *options, "--seed", "1"]) == 0
    names = ("single", "ddp", "other-seed")
    runs = {name: torch.load(tmp_path / name / "last.pt", weights_only=True) for name in names}
    assert runs["single"]["step"] == runs["ddp"]["step"] == 3

    def flat(state: dict) -> torch.Tensor:
        weights = [v for k, v in state["model"].items() if v.is_floating_point() and "running" not in k]
        return torch.cat([v.flatten() for v in weights])

    # every rank's augmentation stream is kept, each its own: a resumed run gives each rank its stream back
    generators = runs["ddp"]["generators"]
    assert len(generators) == 2 and not torch.equal(generators[0], generators[1])
    single, ddp, other = (flat(runs[name]) for name in names)
    # A run with another seed starts elsewhere and sees other batches: the scale of "a different model". The data-
    # parallel run must land far closer to the single-process one than that.
    ddp_gap, other_gap = (ddp - single).norm(), (other - single).norm()
    assert ddp_gap < 0.1 * other_gap, f"DDP differs by {ddp_gap:.3g}; another seed by {other_gap:.3g}"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_load_and_resume_on_cuda(prepared, tmp_path):
    # torch.load(map_location="cuda") also moves the saved RNG state, which Generator.set_state refuses
    from aulib.training.runs import load_run

    run = tmp_path / "run"
    train(config(prepared, run, epochs=1), progress=False)
    trainer = load_run(run, device="cuda")
    assert next(trainer.model.parameters()).device.type == "cuda"
    on_gpu = config(prepared, tmp_path / "gpu", epochs=1, device="cuda")
    history = train(on_gpu, progress=False)
    assert train(on_gpu, resume=True, progress=False).equals(history)  # a finished run resumes to itself


def test_evaluation_is_fp32_on_a_cpu_whatever_its_flags(prepared, tmp_path, monkeypatch):
    # "auto" must not pick bf16 on a CPU with native bf16 (the training rule would): scores may not depend on the CPU.
    # Pretend this CPU has native bf16, so that a wrong rule would show here whatever machine runs the test.
    from aulib.inference import precision

    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.autocast_dtype("auto", torch.device("cpu")) == torch.bfloat16  # the training rule: bf16
    run = tmp_path / "precision"
    train(config(prepared, run, max_steps=2, epochs=1), progress=False)
    auto = evaluate(run, device="cpu", out=tmp_path / "auto")
    fp32 = evaluate(run, device="cpu", precision="fp32", out=tmp_path / "fp32")
    pd.testing.assert_frame_equal(auto, fp32)
