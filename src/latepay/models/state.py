"""``model.json``: the part of a saved model every kind shares, and its format check.

Each model kind saves its own learned parts (LightGBM text, a skops pipeline) beside this file;
what all kinds learn the same way — label spec, feature schema, threshold, lateness profile —
and the parameters are written and read here, so a wrong or newer file is refused in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from latepay.errors import InputError
from latepay.features.labels import LabelSpec
from latepay.models.base import LatenessProfile
from latepay.models.schema import FeatureSchema

STATE_FILE = "model.json"


def write_model_state(folder: Path, model, format_version: int, **specific: Any) -> None:
    """Write the shared state of fitted ``model`` plus its kind's ``specific`` entries."""
    state = {
        "format_version": format_version,
        "kind": model.kind,
        "params": model.get_params(),
        "label_spec": model.spec_.to_dict(),
        "schema": model.schema_.to_dict(),
        "threshold": model.threshold_,
        "profile": model.profile_.to_dict(),
        **specific,
    }
    (folder / STATE_FILE).write_text(json.dumps(state, indent=2))


def read_model_state(folder: Path, model_class, format_version: int) -> tuple[Any, dict]:
    """A new ``model_class`` with the shared state restored, and the whole state for the rest.

    Raises
    ------
    InputError
        When the folder holds another kind of model or another format version.
    """
    state = json.loads((folder / STATE_FILE).read_text())
    if state.get("format_version") != format_version or state.get("kind") != model_class.kind:
        raise InputError(
            f"{folder} holds a model of kind {state.get('kind')!r}, format "
            f"{state.get('format_version')!r}; this latepay reads {model_class.kind} "
            f"format {format_version}"
        )
    model = model_class(**state["params"])
    model.spec_ = LabelSpec.from_dict(state["label_spec"])
    model.schema_ = FeatureSchema.from_dict(state["schema"])
    model.threshold_ = float(state["threshold"])
    model.profile_ = LatenessProfile.from_dict(state["profile"])
    return model, state
