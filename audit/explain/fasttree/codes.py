"""How a compiled node routes a row: node kinds and flags (shared by extraction and kernels)."""

from __future__ import annotations

#: Node flags.
NAN_LEFT = 1  # NaN (and, for categorical splits, invalid categories) goes left
NAN_AS_ZERO = 2  # NaN is read as 0.0 before the split (LightGBM missing_type None / Zero)
ZERO_MISSING = 4  # |x| <= 1e-35 takes the missing direction (LightGBM missing_type Zero)
CAT_TRUNCATE = 8  # categorical: truncate to int before the negative check (LightGBM)
CAT_EXACT = 16  # categorical: a value that is not a whole number takes the missing direction

#: Node kinds.
NUMERIC = 0  # left iff x <= threshold
CATEGORICAL = 1  # left iff int(x) in the node's bitset
