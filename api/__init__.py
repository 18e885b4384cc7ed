"""Thin FastAPI shell over recsys.serving."""
