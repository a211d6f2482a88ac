"""The bundled sample ledger: 200 synthetic customers, ~21k invoices over 2021-2023.

Made with ``latepay generate --customers 200 --seed 7`` and gzipped, so that ``latepay demo``
runs with nothing to download. ``truth.csv.gz`` holds the generator's true probabilities.
"""

from pathlib import Path

SAMPLE_DIR = Path(__file__).parent


def sample_mapping_path() -> Path:
    """The mapping of the bundled sample, ready for ``latepay import``."""
    return SAMPLE_DIR / "mapping.yaml"
