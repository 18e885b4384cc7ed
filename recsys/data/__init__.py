"""Dataset readers (MovieLens ml-latest-small, ml-100k, generic CSV), synthetic generator, loader."""

from recsys.data.schema import Dataset, DataFormatError

__all__ = ["DataFormatError", "Dataset"]
