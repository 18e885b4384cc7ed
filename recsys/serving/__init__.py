"""The serving core used by the API: candidates → online features → score → top-k → log."""
