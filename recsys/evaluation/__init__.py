"""Offline evaluation: train/test splits and top-k ranking metrics (see ``metrics``, ``splits``)."""
