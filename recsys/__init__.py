"""A feature-store-centric recommender system: Feast on Postgres + Redis, swappable rankers."""

__version__ = "0.1.0"
