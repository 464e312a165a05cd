"""The training attacker u: which image operations the SLIC objective makes re-compression survive.

`adaptive.AdaptiveAttacker` (the default since slic-default v2) draws one op of the shared registry
(`slic.ops`) per step, more often where the protection is weakest; `noise.NoiseAttacker` is the
preprint's blur/affine/JPEG-surrogate attacker, kept for its spec strings.
"""

from .adaptive import DEFAULT_ATTACKER, PREFIX_ATTACKER, AdaptiveAttacker

__all__ = ["AdaptiveAttacker", "DEFAULT_ATTACKER", "PREFIX_ATTACKER"]
