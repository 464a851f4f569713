"""segmint: nightly customer segmentation for small online shops."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segmint")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+src"
