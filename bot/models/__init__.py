"""Per-model limits as data (TOML) and pure validation of image requests against them."""

from bot.models.catalog import Catalog
from bot.models.spec import FreeSize, ModelSpec, Plan, is_size_string, parse_size

__all__ = ["Catalog", "FreeSize", "ModelSpec", "Plan", "is_size_string", "parse_size"]
