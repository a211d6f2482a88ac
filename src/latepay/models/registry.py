"""The model registry: versioned folders on disk, one row per version in the ``models`` table.

Each version is a folder holding the model's own files and a ``metadata.json`` that describes
it: data fingerprint, time window, features, parameters, metrics and library versions. A
version is written into a temporary folder and renamed into place only when complete, so a
crash never leaves a half-written model that could be loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import uuid
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import ModelVersion, utcnow
from latepay.errors import NotFoundError
from latepay.models.training import MODEL_KINDS, LateModel

METADATA_FILE = "metadata.json"
_LIBRARIES = ("latepay", "lightgbm", "scikit-learn", "imbalanced-learn", "pandas", "numpy", "skops")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    versions.update({name: package_version(name) for name in _LIBRARIES})
    return versions


class ModelRegistry:
    """Save, list, load and promote model versions.

    Parameters
    ----------
    model_dir : Path
        Folder of the version folders.
    engine : Engine
        Database holding the ``models`` table.
    """

    def __init__(self, model_dir: Path, engine: Engine) -> None:
        self.model_dir = Path(model_dir)
        self.engine = engine

    def register(
        self,
        model: LateModel,
        *,
        data_hash: str,
        trained_from: dt.date | None,
        trained_to: dt.date | None,
        metrics: dict[str, Any],
        notes: dict[str, Any] | None = None,
    ) -> str:
        """Write ``model`` as a new candidate version and return its name."""
        created = utcnow()
        version = f"{model.kind}-{created:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        metadata = {
            "version": version,
            "kind": model.kind,
            "created_at": created.isoformat(),
            "data_hash": data_hash,
            "trained_from": trained_from.isoformat() if trained_from else None,
            "trained_to": trained_to.isoformat() if trained_to else None,
            "features": model.schema_.columns,
            "categorical_features": list(model.schema_.categorical),
            "parameters": model.get_params(),
            "threshold": model.threshold_,
            "label_spec": model.spec_.to_dict(),
            "metrics": metrics,
            "training_seconds": round(model.training_seconds_, 3),
            "libraries": library_versions(),
            **(notes or {}),
        }
        self.model_dir.mkdir(parents=True, exist_ok=True)
        staging = self.model_dir / f".staging-{version}"
        model.save(staging)
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
        final = self.model_dir / version
        os.replace(staging, final)
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(ModelVersion).values(
                    version=version,
                    kind=model.kind,
                    status="candidate",
                    path=str(final.resolve()),
                    data_hash=data_hash,
                    trained_from=trained_from,
                    trained_to=trained_to,
                    metrics=metrics,
                    created_at=created,
                )
            )
        return version

    def metadata(self, version: str) -> dict[str, Any]:
        return json.loads((self._folder(version) / METADATA_FILE).read_text())

    def load(self, version: str) -> LateModel:
        """Load a version from its folder; only complete versions exist under their name."""
        folder = self._folder(version)
        metadata = json.loads((folder / METADATA_FILE).read_text())
        model = MODEL_KINDS[metadata["kind"]].load(folder)
        model.version_ = version
        model.training_seconds_ = metadata["training_seconds"]
        return model

    def champion_version(self) -> str | None:
        with self.engine.connect() as connection:
            return connection.scalar(
                sa.select(ModelVersion.version).where(ModelVersion.status == "champion")
            )

    def load_champion(self) -> LateModel:
        version = self.champion_version()
        if version is None:
            raise NotFoundError("there is no champion model yet; run `latepay train` first")
        return self.load(version)

    def promote(self, version: str, *, decision: str) -> None:
        """Make ``version`` the champion; the previous champion is retired."""
        self._folder(version)
        with self.engine.begin() as connection:
            known = connection.scalar(
                sa.select(ModelVersion.version).where(ModelVersion.version == version)
            )
            if known is None:
                raise NotFoundError(f"model version {version!r} is not registered")
            connection.execute(
                sa.update(ModelVersion)
                .where(ModelVersion.status == "champion")
                .values(status="retired")
            )
            connection.execute(
                sa.update(ModelVersion)
                .where(ModelVersion.version == version)
                .values(status="champion", promoted_at=utcnow(), decision=decision)
            )

    def record_decision(self, version: str, *, decision: str) -> None:
        """Keep why ``version`` was (or was not) promoted, without changing its status."""
        with self.engine.begin() as connection:
            updated = connection.execute(
                sa.update(ModelVersion)
                .where(ModelVersion.version == version)
                .values(decision=decision)
            ).rowcount
        if not updated:
            raise NotFoundError(f"model version {version!r} is not registered")

    def versions(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(ModelVersion).order_by(ModelVersion.created_at.desc())
            ).mappings()
            return [dict(row) for row in rows]

    def _folder(self, version: str) -> Path:
        # A version is a plain folder name: never a path that could lead elsewhere.
        if not version or version.startswith(".") or "/" in version or "\\" in version:
            raise NotFoundError(f"no model version {version!r} in {self.model_dir}")
        folder = self.model_dir / version
        if not (folder / METADATA_FILE).is_file():
            raise NotFoundError(f"no model version {version!r} in {self.model_dir}")
        return folder
