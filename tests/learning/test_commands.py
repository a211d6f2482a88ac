"""``latepay retrain`` and ``latepay drift`` as a user runs them; the retrain route's 409."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess

import httpx
from tests.e2e.test_cli import LATEPAY

from latepay.api.app import create_app
from latepay.api.keys import create_key
from latepay.api.routes import models as models_routes


def test_retrain_then_drift_from_the_command_line(workspace) -> None:
    env = {**os.environ, "LATEPAY_MODEL_DIR": str(workspace.settings.model_dir)}

    def latepay(*args: str) -> dict:
        command = [LATEPAY, "--db", workspace.settings.database_url, "--json", *args]
        result = subprocess.run(
            command, cwd=workspace.folder, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    decision = latepay("retrain")
    assert decision["promoted"] is True
    assert decision["champion_before"] is None
    assert decision["champion_after"] == decision["challenger"]
    assert decision["challenger_metrics"]["roc_auc"] > 0.6
    window = dt.date.fromisoformat(decision["label_cutoff"]) - dt.timedelta(days=90)
    assert decision["window_from"] == window.isoformat()
    assert decision["window_fallback"] is False
    assert decision["champion_saw_window"] is False

    report = latepay("drift", "--days", "120")
    assert report["champion"] == decision["challenger"]
    assert report["recent_invoices"] > 0
    psi = [row["psi"] for row in report["rows"]]
    assert psi == sorted(psi, reverse=True)
    assert "score:p_late" in {row["feature"] for row in report["rows"]}
    assert {row["status"] for row in report["rows"]} <= {"stable", "watch", "drift", "seasonal"}


def test_the_retrain_route_is_for_admins_one_at_a_time(workspace) -> None:
    admin, _ = create_key(workspace.engine, name="ml owner", role="admin")
    viewer, _ = create_key(workspace.engine, name="reader", role="viewer")
    app = create_app(workspace.settings)

    async def post_retrain(key: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://latepay") as client:
            return await client.post(
                "/v1/models/retrain", headers={"Authorization": f"Bearer {key}"}
            )

    assert asyncio.run(post_retrain(viewer)).status_code == 403
    assert models_routes._retraining.acquire(blocking=False)
    try:
        busy = asyncio.run(post_retrain(admin))
    finally:
        models_routes._retraining.release()
    assert busy.status_code == 409
    assert "already running" in busy.json()["detail"]

    done = asyncio.run(post_retrain(admin))
    assert done.status_code == 200, done.text
    assert done.json()["promoted"] is True
    assert done.json()["champion_saw_window"] is False
    assert done.json()["window_invoices"] >= 100
    assert app.state.champion.version == done.json()["challenger"]
