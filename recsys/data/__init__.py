"""Dataset readers (ml-latest-small, ml-100k, generic CSV), synthetic generator, bulk loader."""

from recsys.data.schema import DataFormatError, Dataset

__all__ = ["DataFormatError", "Dataset"]
