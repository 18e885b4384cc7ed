"""Batch feature computation into offline tables, and the Feast apply/materialize steps."""
