"""Large batches are predicted by compiled boosters, as LightGBM predicts them."""

from __future__ import annotations

import os
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from latepay.features import Ledger, build_features
from latepay.features.labels import LabelSpec
from latepay.models import compiled
from latepay.models.gbm import GradientBoostingLateModel
from latepay.models.training import training_data
from latepay.scoring import batch

CUTOFF = pd.Timestamp("2023-06-01")


@pytest.fixture(scope="module")
def model_and_features(learnable_ledger: Ledger):
    model = GradientBoostingLateModel(n_estimators=100).fit(
        # Three late buckets: the bucket booster is multiclass.
        training_data(learnable_ledger, cutoff=CUTOFF, spec=LabelSpec(bucket_edges=(15, 40)))
    )
    invoices = learnable_ledger.invoices
    return model, build_features(learnable_ledger, invoices[invoices["issue_date"] >= CUTOFF])


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Machine code is kept under the test's own folder, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list:
    """The boosters compiled for predictions while a test runs."""
    asked = []

    def spy(booster, **options):
        asked.append(booster)
        return compile_for_real(booster, **options)

    compile_for_real = compiled.compiled
    monkeypatch.setattr(compiled, "compiled", spy)
    return asked


def test_compiled_boosters_give_lightgbms_outcome(model_and_features, compilations, monkeypatch):
    model, features = model_and_features
    # Each kind of objective compiles: binary, multiclass and regression.
    assert model.bucket_booster_.num_model_per_iteration() == len(model.spec_.bucket_names) - 1 > 2
    assert model.days_booster_ is not None
    by_lightgbm = model.predict_outcome(features)
    assert compilations == []

    monkeypatch.setattr(compiled, "COMPILED_FROM_ROWS", len(features))
    by_machine_code = model.predict_outcome(features)
    assert compilations == [model.late_booster_, model.bucket_booster_, model.days_booster_]
    pd.testing.assert_frame_equal(
        by_machine_code, by_lightgbm, check_exact=False, rtol=0, atol=1e-12
    )
    assert model.predict_proba_late(features) == pytest.approx(by_lightgbm["p_late"], abs=1e-12)


def test_a_booster_compiles_once(model_and_features):
    model, features = model_and_features
    first = compiled.compiled(model.late_booster_)
    assert compiled.compiled(model.late_booster_) is first
    x = model.schema_.matrix(features)
    assert first.predict(x, n_jobs=1) == pytest.approx(model.late_booster_.predict(x), abs=1e-12)


def test_machine_code_is_kept_for_the_next_process(model_and_features, tmp_path, monkeypatch):
    import lleaves.compiler

    model, features = model_and_features
    model.save(tmp_path / "model")
    monkeypatch.setattr(compiled, "COMPILED_FROM_ROWS", len(features))
    # Loaded anew, as by another process: its boosters were never compiled here.
    first = GradientBoostingLateModel.load(tmp_path / "model").predict_outcome(features)
    kept = sorted(compiled.cache_folder().iterdir())
    assert [path.suffix for path in kept] == [".o", ".o", ".o"]
    assert compiled.cache_folder().stat().st_mode & 0o777 == 0o700

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again instead of loading the kept machine code")

    monkeypatch.setattr(lleaves.compiler, "compile_to_module", no_compiling)
    again = GradientBoostingLateModel.load(tmp_path / "model").predict_outcome(features)
    pd.testing.assert_frame_equal(again, first, check_exact=True)


def test_machine_code_is_neither_kept_nor_loaded_where_others_can_write(
    model_and_features, tmp_path, monkeypatch
):
    model, features = model_and_features
    shared = compiled.cache_folder()
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    model.save(tmp_path / "model")
    monkeypatch.setattr(compiled, "COMPILED_FROM_ROWS", len(features))
    outcome = GradientBoostingLateModel.load(tmp_path / "model").predict_outcome(features)
    assert list(shared.iterdir()) == []
    pd.testing.assert_frame_equal(
        outcome, model.predict_outcome(features), check_exact=False, rtol=0, atol=1e-12
    )


def test_compiling_ahead_readies_the_boosters_for_the_first_prediction(
    model_and_features, tmp_path, monkeypatch
):
    model, features = model_and_features
    by_lightgbm = model.predict_outcome(features)
    model.save(tmp_path / "model")
    fresh = GradientBoostingLateModel.load(tmp_path / "model")
    monkeypatch.setattr(compiled, "COMPILED_FROM_ROWS", len(features))
    # Chunks too small for machine code: nothing to compile.
    assert batch.compile_ahead(fresh, 10 * len(features), chunk_rows=len(features) - 1) is None
    assert fresh.compile_ahead(rows=len(features) - 1) is None

    thread = batch.compile_ahead(fresh, 10 * len(features), chunk_rows=len(features))
    assert thread is not None
    assert fresh.compile_ahead(rows=len(features)) is None  # under way or done: not twice
    thread.join()

    def no_compiling(booster):
        raise AssertionError("compiled when predicting, not ahead")

    monkeypatch.setattr(compiled, "_compile", no_compiling)
    pd.testing.assert_frame_equal(
        fresh.predict_outcome(features), by_lightgbm, check_exact=False, rtol=0, atol=1e-12
    )


def test_a_failure_compiling_ahead_is_left_to_the_first_prediction(
    model_and_features, tmp_path, monkeypatch
):
    model, features = model_and_features
    model.save(tmp_path / "model")
    fresh = GradientBoostingLateModel.load(tmp_path / "model")
    monkeypatch.setattr(compiled, "COMPILED_FROM_ROWS", len(features))
    compile_for_real = compiled._compile

    def broken(booster):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(compiled, "_compile", broken)
    # The thread swallows it (an escaped thread exception would fail this test).
    fresh.compile_ahead(rows=len(features)).join()
    with pytest.raises(RuntimeError, match="no compiler today"):
        fresh.predict_outcome(features)

    monkeypatch.setattr(compiled, "_compile", compile_for_real)
    pd.testing.assert_frame_equal(
        fresh.predict_outcome(features),
        model.predict_outcome(features),
        check_exact=False,
        rtol=0,
        atol=1e-12,
    )


def test_machine_code_unused_for_a_month_is_deleted_when_new_code_is_kept(
    model_and_features, tmp_path, monkeypatch
):
    model, features = model_and_features
    model.save(tmp_path / "model")
    monkeypatch.setattr(compiled, "COMPILED_FROM_ROWS", len(features))
    GradientBoostingLateModel.load(tmp_path / "model").predict_outcome(features)
    kept = sorted(compiled.cache_folder().iterdir())
    month_ago = time.time() - (compiled.KEPT_UNUSED_DAYS + 1) * 86_400
    for path in kept:
        os.utime(path, (month_ago, month_ago))
    # Loaded again: each file it loads is used now.
    GradientBoostingLateModel.load(tmp_path / "model").predict_outcome(features)
    assert all(path.stat().st_mtime > month_ago + 86_400 for path in kept)

    unused = compiled.cache_folder() / f"{'0' * 64}.o"
    left_half_written = compiled.cache_folder() / f".{'1' * 64}.4242.tmp"
    recent = compiled.cache_folder() / f"{'2' * 64}.o"
    for path in (unused, left_half_written, recent):
        path.write_bytes(b"machine code")
    for path in (unused, left_half_written):
        os.utime(path, (month_ago, month_ago))
    # New machine code (another booster) is kept, and the unused is deleted.
    rng = np.random.default_rng(0)
    data = lgb.Dataset(rng.random((200, 3)), rng.random(200))
    booster = lgb.train({"objective": "regression", "verbose": -1}, data, num_boost_round=5)
    compiled.compiled(booster)
    left = sorted(compiled.cache_folder().iterdir())
    assert unused not in left and left_half_written not in left
    assert recent in left and set(kept) <= set(left) and len(left) == len(kept) + 2
