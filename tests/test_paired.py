"""Paired comparisons by test subject, the capacity-matched direct-regression head, and the reference's paired table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from helpers import pingouin_icc_columns, prepared_synthau

from aulib.evaluation.paired import icc_difference, mean_icc, verdict
from aulib.method.bootstrap import Interval
from aulib.models import count_parameters, create_model
from aulib.training.config import TrainConfig
from aulib.training.trainer import Trainer

AUS = ["AU06", "AU12"]


def frame_table(truth: np.ndarray, predicted: np.ndarray, frames_per_subject: int) -> pd.DataFrame:
    n = len(truth)
    table = pd.DataFrame({"subject": [f"S{i // frames_per_subject:02d}" for i in range(n)], "sequence": "T1",
                          "frame": np.arange(n) % frames_per_subject})
    for a, au in enumerate(AUS):
        table[f"true_{au}"] = truth[:, a]
        table[f"pred_{au}"] = predicted[:, a]
    return table


@pytest.fixture
def two_models(rng):
    truth = rng.uniform(0, 5, size=(120, 2))
    good = np.clip(truth + rng.normal(0, 0.3, truth.shape), 0, 5)
    poor = np.clip(truth + rng.normal(0, 1.5, truth.shape), 0, 5)
    return frame_table(truth, poor, 10), frame_table(truth, good, 10)


def test_the_difference_is_pingouins_mean_icc_difference(two_models):
    poor, good = two_models
    truth = poor[[f"true_{au}" for au in AUS]].to_numpy()
    expected = (pingouin_icc_columns(truth, good[[f"pred_{au}" for au in AUS]].to_numpy()).mean()
                - pingouin_icc_columns(truth, poor[[f"pred_{au}" for au in AUS]].to_numpy()).mean())
    interval = icc_difference(poor, good.sample(frac=1.0, random_state=0), n_boot=300)  # row order must not matter
    assert interval.estimate == pytest.approx(expected, abs=1e-9)
    assert interval.n == 12 and interval.low <= interval.estimate <= interval.high
    assert verdict(interval) == "better" and interval.low > 0
    assert verdict(icc_difference(good, poor, n_boot=300)) == "worse"


def test_a_model_against_itself_is_level_with_a_zero_interval(two_models):
    poor, _ = two_models
    interval = icc_difference(poor, poor.copy(), n_boot=200)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert verdict(interval) == "level"
    assert verdict(Interval(0.02, -0.001, 0.04, 30, 0.95)) == "level"


def test_the_bootstrap_draws_whole_subjects(rng):
    """Two models that differ on one subject only: a frame-level bootstrap would almost never miss that subject's
    frames, a subject-level one leaves it out of about (1 - 1/n)^n ≈ 35% of the draws, so its interval reaches 0."""
    truth = rng.uniform(0, 5, size=(100, 2))
    first = frame_table(truth, truth.copy(), 10)
    second = first.copy()
    odd = second.subject == "S09"  # the last subject: a draw that never reaches it would give a zero interval
    second.loc[odd, [f"pred_{au}" for au in AUS]] = 5.0 - second.loc[odd, [f"pred_{au}" for au in AUS]]
    interval = icc_difference(first, second, n_boot=500)
    assert interval.low <= interval.estimate < -0.05 and interval.high == pytest.approx(0.0, abs=1e-12)


def test_tables_of_other_frames_or_other_truths_are_refused(two_models):
    poor, good = two_models
    with pytest.raises(ValueError, match="same frames: 10 of 120"):
        icc_difference(poor, good[good.subject != "S00"])
    shifted = good.assign(true_AU06=good.true_AU06 + 1)
    with pytest.raises(ValueError, match="different true intensities"):
        icc_difference(poor, shifted)


def test_mean_icc_leaves_out_an_undefined_au(two_models):
    poor, _ = two_models
    constant = poor.assign(true_AU12=0.0, pred_AU12=0.0)
    expected = pingouin_icc_columns(poor[["true_AU06"]].to_numpy(), poor[["pred_AU06"]].to_numpy())[0]
    assert mean_icc(constant) == pytest.approx(expected, abs=1e-9)


def test_the_direct_head_has_the_heatmap_networks_parameters():
    # 3,416,197: the paper's released network (its Table/code); the pooled head replaces a 1×1 conv of 256×5 + 5
    # weights by a linear layer of the same size, so the count is the same.
    assert count_parameters(create_model("paper-direct")) == 3_416_197
    assert count_parameters(create_model("tiny-direct")) == count_parameters(create_model("tiny"))
    model = create_model("tiny-direct", num_maps=3).eval()
    assert model(torch.zeros(2, 3, 96, 96)).shape == (2, 3) and model.output_kind == "intensity"
    with pytest.raises(ValueError, match="divisible by 32"):
        model(torch.zeros(1, 3, 100, 100))


def test_the_direct_head_trains_with_the_runs_huber_loss_and_resnet_with_mse(tmp_path):
    prepared = prepared_synthau(tmp_path, subjects=4, frames=8, seed=2)
    losses = {}
    for preset in ("tiny-direct", "resnet18-small"):
        # fp32: the loss is compared with an fp32 formula (auto would be bf16 autocast on an AVX-512 BF16 CPU)
        config = TrainConfig.from_profile("smoke", data=str(prepared), out=str(tmp_path / preset), model=preset,
                                          device="cpu", batch_size=4, epochs=1, precision="fp32")
        trainer = Trainer(config, progress=False)
        batch = trainer.batch(torch.arange(4), train=False)
        trainer.model.eval()
        with torch.no_grad():
            output = trainer.model(batch["images"])
            labels, mask = batch["labels"], batch["mask"].float()
            losses[preset] = (float(trainer.compute_loss(batch)),
                              float((F.huber_loss(output, labels, reduction="none", delta=1.0) * mask).sum()
                                    / mask.sum()),
                              float((F.mse_loss(output, labels, reduction="none") * mask).sum() / mask.sum()))
    loss, huber, mse = losses["tiny-direct"]
    assert loss == pytest.approx(huber, rel=1e-5) and abs(huber - mse) > 1e-3
    loss, huber, mse = losses["resnet18-small"]
    assert loss == pytest.approx(mse, rel=1e-5)


REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"


def test_the_committed_paired_table_is_recomputed_from_the_committed_predictions():
    # pingouin, the ICC oracle, on the committed per-frame predictions of seed 0, matched frame by frame
    paired = pd.read_csv(REFERENCE / "paired.csv")
    keys = ["subject", "sequence", "frame"]
    hourglass = pd.read_csv(REFERENCE / "hourglass" / "seed0" / "predictions.csv.gz", dtype={"subject": str})
    labels = [c.removeprefix("true_") for c in hourglass.columns if c.startswith("true_")]
    truth = hourglass[[f"true_{x}" for x in labels]].to_numpy()
    hourglass_icc = pingouin_icc_columns(truth, hourglass[[f"pred_{x}" for x in labels]].to_numpy())
    # the Hourglass's predictions, recomputed from its weights, give its committed metrics (rounded to 4 decimals)
    committed = pd.read_csv(REFERENCE / "hourglass" / "seed0" / "metrics.csv", index_col=0)
    np.testing.assert_allclose(hourglass_icc, committed.ICC[labels].to_numpy(), atol=1e-3)
    runs = [r for r in paired.run.unique() if r != "ridge on landmarks"]
    assert "hourglass-direct" in runs
    for run in runs:
        other = pd.read_csv(REFERENCE / run / "seed0" / "predictions.csv.gz", dtype={"subject": str})
        merged = hourglass[keys].merge(other, on=keys, validate="one_to_one")
        assert len(merged) == len(hourglass)
        other_icc = pingouin_icc_columns(merged[[f"true_{x}" for x in labels]].to_numpy(),
                                         merged[[f"pred_{x}" for x in labels]].to_numpy())
        row = paired[(paired.run == run) & (paired.seed == 0)].iloc[0]
        assert row.difference == pytest.approx(other_icc.mean() - hourglass_icc.mean(), abs=1e-9)
        assert row.low <= row.difference <= row.high
        assert row.verdict == ("level" if row.low <= 0 <= row.high else "better" if row.low > 0 else "worse")
    assert set(paired.seed) == {0, 1, 2} and (paired.subjects == hourglass.subject.nunique()).all()


def test_build_paired_pairs_every_run_and_the_ridge_with_the_hourglass(tmp_path, rng):
    from aulib.course.reference import build_paired
    from aulib.evaluation.geometry import geometry_predictions

    prepared = prepared_synthau(tmp_path, subjects=10, frames=8, seed=3)
    ridge = geometry_predictions(prepared)
    labels = [c.removeprefix("true_") for c in ridge.columns if c.startswith("true_")]
    truth = ridge[[f"true_{x}" for x in labels]].to_numpy()
    predicted = {}
    for run, noise in (("hourglass", 0.3), ("hourglass-direct", 1.5)):
        predicted[run] = np.clip(truth + rng.normal(0, noise, truth.shape), 0, 5)
        folder = tmp_path / "reference" / run / "seed0"
        folder.mkdir(parents=True)
        ridge.assign(**{f"pred_{x}": predicted[run][:, a] for a, x in enumerate(labels)}).to_csv(
            folder / "predictions.csv.gz", index=False)
    paired = build_paired(tmp_path / "reference", prepared, seeds=[0], n_boot=200).set_index("run")
    assert set(paired.index) == {"hourglass-direct", "ridge on landmarks"}
    assert paired.subjects.iloc[0] == ridge.subject.nunique() >= 2
    hourglass_icc = np.nanmean(pingouin_icc_columns(truth, predicted["hourglass"]))  # an all-zero AU is left out
    for run, other in (("hourglass-direct", predicted["hourglass-direct"]),
                       ("ridge on landmarks", ridge[[f"pred_{x}" for x in labels]].to_numpy())):
        assert paired.difference[run] == pytest.approx(np.nanmean(pingouin_icc_columns(truth, other)) - hourglass_icc,
                                                       abs=1e-9)
    assert paired.verdict["hourglass-direct"] == "worse"
    assert pd.read_csv(tmp_path / "reference" / "paired.csv").shape[0] == 2
