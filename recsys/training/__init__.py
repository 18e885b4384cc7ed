"""Fitting rankers from the app database and keeping their versions in the model registry."""
