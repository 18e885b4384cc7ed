"""Evidently reports on what the API served. Never imported by the API process."""
