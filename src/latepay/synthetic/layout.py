"""Layout of the generated files: tables, their columns and types.

Column names are latepay's canonical names; ``FEATURE_COLUMNS`` are the extra
columns declared as features in the mapping.
"""

import pyarrow as pa

FEATURE_COLUMNS = {"invoices": ("po_number_required",), "customers": ("e_invoicing",)}

# Source tables, in the order the mapping lists them.
SOURCE_TABLES = (
    "invoices",
    "customers",
    "payments",
    "disputes",
    "interactions",
    "economic_indicators",
)
TRUTH_TABLE = "truth"

TABLE_SCHEMAS = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("name", pa.string()),
            ("email", pa.string()),
            ("industry", pa.string()),
            ("country", pa.string()),
            ("segment", pa.string()),
            ("credit_limit", pa.float64()),
            ("payment_terms_days", pa.int64()),
            ("customer_since", pa.date32()),
            ("excluded_from_outreach", pa.bool_()),
            ("e_invoicing", pa.bool_()),
        ]
    ),
    "invoices": pa.schema(
        [
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("issue_date", pa.date32()),
            ("due_date", pa.date32()),
            ("amount", pa.float64()),
            ("currency", pa.string()),
            ("payment_method", pa.string()),
            ("channel", pa.string()),
            ("po_number_required", pa.bool_()),
        ]
    ),
    "payments": pa.schema(
        [
            ("payment_id", pa.string()),
            ("invoice_id", pa.string()),
            ("paid_date", pa.date32()),
            ("amount", pa.float64()),
        ]
    ),
    "disputes": pa.schema(
        [
            ("dispute_id", pa.string()),
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("opened_date", pa.date32()),
            ("resolved_date", pa.date32()),
            ("reason", pa.string()),
        ]
    ),
    "interactions": pa.schema(
        [
            ("interaction_id", pa.string()),
            ("customer_id", pa.string()),
            ("date", pa.date32()),
            ("channel", pa.string()),
            ("topic", pa.string()),
        ]
    ),
    "economic_indicators": pa.schema(
        [
            ("period", pa.string()),
            ("name", pa.string()),
            ("value", pa.float64()),
            ("key", pa.string()),
        ]
    ),
    TRUTH_TABLE: pa.schema(
        [
            ("invoice_id", pa.string()),
            ("p_true", pa.float64()),
            ("is_late_true", pa.int8()),
        ]
    ),
}

# CSV float formatting: money and published indicators carry two decimals;
# p_true keeps full precision because it is the exact probability used.
CSV_FLOAT_FORMATS = {
    "customers": "%.2f",
    "invoices": "%.2f",
    "payments": "%.2f",
    "disputes": None,
    "interactions": None,
    "economic_indicators": "%.2f",
    TRUTH_TABLE: None,
}


def canonical_columns(table: str) -> list[str]:
    """Columns of ``table`` that carry canonical latepay names (everything but features)."""
    features = FEATURE_COLUMNS.get(table, ())
    return [name for name in TABLE_SCHEMAS[table].names if name not in features]
