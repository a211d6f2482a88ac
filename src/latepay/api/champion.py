"""The model being served: loaded once at start-up, swapped when another is promoted.

A background task asks the registry every few seconds which version is champion and, when it
changed, loads the new one off the event loop and then replaces the reference in one step.
A request holds the model it started with, so it never sees half of a swap.
"""

from __future__ import annotations

import asyncio
import logging

from latepay.models.registry import ModelRegistry
from latepay.models.training import LateModel

logger = logging.getLogger(__name__)


class ModelUnavailableError(Exception):
    """No champion has been trained yet (the API answers 503)."""


class Champion:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._model: LateModel | None = None

    @property
    def version(self) -> str | None:
        return None if self._model is None else self._model.version_

    def get(self) -> LateModel:
        model = self._model
        if model is None:
            raise ModelUnavailableError(
                "no champion model is being served yet; train one with `latepay train`"
            )
        return model

    def refresh(self) -> bool:
        """Load the registry's champion if it is not the one served; True when it changed."""
        version = self.registry.champion_version()
        if version is None or version == self.version:
            return False
        model = self.registry.load(version)
        self._model = model
        logger.info("serving model %s", version)
        return True

    async def watch(self, interval: float, on_change=None) -> None:
        """Refresh every ``interval`` seconds until cancelled; errors are logged, not raised."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await asyncio.to_thread(self.refresh) and on_change is not None:
                    on_change(self.version)
            except Exception:
                logger.exception("could not refresh the champion model")
