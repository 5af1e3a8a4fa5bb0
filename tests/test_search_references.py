"""Baselines are the published architectures trained in full; no configuration is trained twice.

Real Ray Tune + Optuna searches on tiny MNIST-1D data (the session's Ray, ``ray_session``).
"""
from __future__ import annotations

import json

import optuna
import pandas as pd
import pytest

from test_search_run import check_documented, tiny_space


def _metrics(run_dir, trial_dir) -> dict:
    return json.loads((run_dir / trial_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_baselines_are_plain_resnet_and_published_lm_resnet_trained_every_epoch_under_asha(ray_session, tmp_path):
    from nas.search import run

    # A noise block and a searched network block; ASHA with grace period 1 and reduction factor 4 stops
    # 3 of 4 trials at epoch 1. The baselines get a poor shape (h = 0.01 barely moves the features).
    # (Queued first, they meet nearly empty rungs here; the scheduler test below shows the exemption itself.)
    space = tiny_space(
        train={"epochs": 3, "batch_size": 64},
        search={"trials": 6, "scheduler": "asha", "grace_period": 1, "reduction_factor": 4, "seed": 0,
                "max_concurrent": 1},
        network={"widths": {"choices": [[4, 8], [8, 8]]}, "steps_per_stage": [1, 2], "h": [1.0, 0.5]},
        noise=[{"kind": "stochastic_depth", "p_L": 0.5}, {"kind": "gaussian", "sigma_max": 0.3}],
        baselines={"network": {"widths": [4, 8], "steps_per_stage": 2, "h": 0.01}},
        constraints={})
    run(space, results_dir=tmp_path, progress=False)
    run_dir = tmp_path / "tiny"
    frame = pd.read_csv(run_dir / "trials.csv")
    baselines = frame[frame["baseline"]].set_index("option")
    assert sorted(baselines.index) == ["baseline_euler", "baseline_lm_resnet"]
    for option, row in baselines.iterrows():
        spec = json.loads((run_dir / row["trial_dir"] / "spec.json").read_text())
        assert spec["noise"] is None, f"{option} has noise {spec['noise']}"
        assert spec["widths"] == [4, 8] and spec["steps_per_stage"] == 2 and spec["h"] == 0.01
        assert row["status"] == "completed" and row["epochs_run"] == 3, f"{option} stopped early by ASHA"
    assert baselines.loc["baseline_euler", "scheme_name"] == "euler"
    lm = json.loads((run_dir / baselines.loc["baseline_lm_resnet", "trial_dir"] / "spec.json").read_text())["scheme"]
    assert lm["family"] == "lm_resnet" and lm["learn"] == "layer" and lm.get("k") is None  # paper's random init
    # ASHA was on and did stop sampled trials: without the exemption the (worse) baselines would stop too
    searched = frame[~frame["baseline"]]
    assert (searched["status"] == "stopped").any()
    assert (searched["noise_kind"] != "none").all()  # the sampled trials took the noise block's choices


def test_asha_stops_a_poor_sampled_trial_but_not_a_baseline_and_ignores_duplicates():
    from types import SimpleNamespace

    from ray.tune.schedulers import TrialScheduler

    from nas.search.scheduler import ReferenceExemptASHA

    asha = ReferenceExemptASHA(time_attr="epoch", metric="val_acc", mode="max", max_t=10, grace_period=1,
                               reduction_factor=2, brackets=1)

    def trial(trial_id, **config):
        made = SimpleNamespace(trial_id=trial_id, config={"scheme": "rk", **config})
        asha.on_trial_add(None, made)
        return made

    for i, value in enumerate((0.8, 0.85, 0.9)):
        assert asha.on_trial_result(None, trial(f"good{i}"), {"epoch": 1, "val_acc": value}) == TrialScheduler.CONTINUE
    poor = trial("poor")
    assert asha.on_trial_result(None, poor, {"epoch": 1, "val_acc": 0.1}) == TrialScheduler.STOP
    baseline = trial("base", scheme="baseline_euler")
    assert asha.on_trial_result(None, baseline, {"epoch": 1, "val_acc": 0.1}) == TrialScheduler.CONTINUE
    assert asha.on_trial_result(None, baseline, {"epoch": 2, "val_acc": 0.1}) == TrialScheduler.CONTINUE
    # a duplicate reports another trial's result: not recorded in the rungs, never stopped
    recorded = dict(asha._brackets[0]._rungs[-1][1])
    duplicate = trial("dup", duplicate_of="poor", duplicate_result={})
    assert asha.on_trial_result(None, duplicate, {"epoch": 1, "val_acc": 0.0}) == TrialScheduler.CONTINUE
    asha.on_trial_complete(None, duplicate, {"epoch": 1, "val_acc": 0.0})
    assert asha._brackets[0]._rungs[-1][1] == recorded


def test_baseline_network_defaults_to_first_choices_and_is_validated():
    from nas.search.space import load_space

    space = load_space(tiny_space(network={"widths": {"choices": [[4, 8], [8, 8]]}, "steps_per_stage": [2, 1],
                                           "h": {"low": 0.5, "high": 2.0}}))
    assert space.baseline_network == {"widths": "4-8", "steps_per_stage": 2, "h": 0.5, "share_stage_weights": False}
    with pytest.raises(ValueError, match=r"baselines\.network\.depth: unknown key"):
        load_space(tiny_space(baselines={"network": {"depth": 3}}))
    with pytest.raises(ValueError, match=r"baselines\.network\.h: must be"):
        load_space(tiny_space(baselines={"network": {"h": 0}}))


def _fixed_space(**search) -> dict:
    return tiny_space(search={"trials": 4, "scheduler": "none", "seed": 0, **search}, baselines=False,
                      network={"widths": [4, 8], "steps_per_stage": 2}, scheme={"family": "named", "names": "heun"},
                      constraints={})


@pytest.mark.slow
def test_a_fixed_configuration_searched_four_times_is_trained_once(ray_session, tmp_path):
    from nas.search import run

    run(_fixed_space(), name="fixed", results_dir=tmp_path, progress=False)
    run_dir = tmp_path / "fixed"
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"duplicate_of": str})
    check_documented(frame.columns)
    assert len(frame) == 4 and frame["training_id"].nunique() == 1 and frame["architecture_id"].nunique() == 1
    original = frame[frame["status"] != "duplicate"]
    assert len(original) == 1 and original["status"].iloc[0] == "completed"
    assert original["duplicate_of"].isna().all()
    duplicates = frame[frame["status"] == "duplicate"]
    assert len(duplicates) == 3
    assert (duplicates["duplicate_of"] == original["trial_id"].iloc[0]).all()
    assert (duplicates["epochs_run"] == 0).all()
    assert (duplicates["wall_time"] < 1.0).all() and (duplicates["cpu_time"] < 1.0).all()
    assert (duplicates["val_acc"] == original["val_acc"].iloc[0]).all()
    for trial_dir in duplicates["trial_dir"]:
        assert not (run_dir / trial_dir / "weights.safetensors").exists()
        assert _metrics(run_dir, trial_dir)["duplicate_of"] == original["trial_id"].iloc[0]
    # the sampler was told the original's value for every duplicate
    study = optuna.load_study(study_name="fixed", storage=f"sqlite:///{run_dir / 'optuna.db'}")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert [t.values[0] for t in trials] == pytest.approx([original["val_acc"].iloc[0]] * 4)
    assert sum("duplicate_of" in t.user_attrs for t in trials) == 3


@pytest.mark.slow
def test_reseed_trains_a_repeated_architecture_with_the_next_seeds(ray_session, tmp_path):
    from nas.search import run

    run(_fixed_space(trials=3, duplicates="reseed", seed=5), name="reseed", results_dir=tmp_path, progress=False)
    frame = pd.read_csv(tmp_path / "reseed" / "trials.csv")
    assert (frame["status"] == "completed").all()
    assert sorted(frame["seed"]) == [5, 6, 7]
    assert frame["architecture_id"].nunique() == 1 and frame["training_id"].nunique() == 3
    assert frame["duplicate_of"].isna().all()


def test_duplicates_mode_is_validated():
    from nas.search.space import load_space

    with pytest.raises(ValueError, match=r"search\.duplicates: must be one of reuse, reseed"):
        load_space(_fixed_space(duplicates="skip"))


class _StubPlan:
    def __init__(self, config):
        self.spec = type("Spec", (), {"to_dict": staticmethod(lambda: {"net": config["net"]})})()


class _StubSpace:
    def plan(self, config, **_):
        if config["net"] == "broken":
            raise ValueError("cannot be built")
        return _StubPlan(config)


def _index(mode="reuse"):
    from nas.search.duplicates import TrainingIndex

    return TrainingIndex(space=_StubSpace(), macro="sequence", in_channels=1, num_classes=10,
                         train={"epochs": 2}, seed=4, mode=mode)


def test_training_index_reuses_finished_holds_running_and_frees_failed_originals():
    from nas.search.duplicates import DUPLICATE_OF, DUPLICATE_RESULT, is_duplicate

    index = _index()
    assert index.admit("t1", {"net": "a"})[0] == "train"
    assert index.admit("t2", {"net": "a"}) == ("wait", {"net": "a"}, "t1")  # t1 still training
    assert index.admit("t3", {"net": "broken"})[0] == "train"  # unbuildable: the trial records the error
    index.finished("t1", {"val_acc": 0.5, "epoch": 2, "status": "completed", "time_total_s": 3.0})
    kind, config, original = index.admit("t4", {"net": "a"})
    assert (kind, original) == ("duplicate", "t1") and is_duplicate(config) and config[DUPLICATE_OF] == "t1"
    assert config[DUPLICATE_RESULT] == {"val_acc": 0.5, "epoch": 2, "status": "completed"}  # Tune's keys dropped
    # an original that fails is forgotten: the next proposal of its configuration trains
    assert index.admit("t5", {"net": "b"})[0] == "train"
    index.failed("t5")
    assert index.admit("t6", {"net": "b"}) == ("train", {"net": "b"}, None)


def test_training_index_reseed_gives_each_repeat_the_next_seed():
    from nas.search.duplicates import TRAIN_SEED, trial_seed

    index = _index("reseed")
    configs = [index.admit(f"t{i}", {"net": "a"})[1] for i in range(3)]
    assert [trial_seed(c, 4) for c in configs] == [4, 5, 6] and TRAIN_SEED not in configs[0]
    assert index.admit("t9", {"net": "b"}) == ("train", {"net": "b"}, None)
