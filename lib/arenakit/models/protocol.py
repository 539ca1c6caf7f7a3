"""What generic code (the ensemble, its time budget and timer, the bench) may know about a model.

A model declares it; nothing outside the model reads its parameters by name. Every answer comes
from the model's parameters alone, never from fitted state, so it holds for an unfitted copy:

    configured = clone(model).set_params(**overrides)
    configured.cheaper_steps()     # [CheaperStep("swap_average", "swap-averaging off", {"swap_average": False}), ...]
    configured.cache_info()        # CacheInfo(param="cache_dir", what="sentence embeddings ...", where="...")

The defaults live on arenakit.models.base.ArenaModel; a model class overrides what differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The kinds of cheaper inference the time budget gives up, in its order: the cheapest loss of
# quality first (swap-averaging off costs a few thousandths of log loss; a shorter token cap
# loses the text beyond it).
SWAP_STEP = "swap_average"
STEP_KINDS = (SWAP_STEP, "token_cap")


@dataclass(frozen=True)
class CheaperStep:
    """One way to run inference cheaper: a settings change and the name the notebook prints."""

    kind: str  # one of STEP_KINDS
    name: str  # e.g. "swap-averaging off", "token cap 256 -> 128"
    settings: dict = field(hash=False)  # the inference settings that apply it, e.g. {"swap_average": False}

    def __post_init__(self):
        if self.kind not in STEP_KINDS:
            raise ValueError(f"CheaperStep kind {self.kind!r} is not one of {', '.join(STEP_KINDS)}")


@dataclass(frozen=True)
class CacheInfo:
    """What a model caches on disk and where; the timer points `param` at a fresh folder to time cold rows."""

    param: str  # the parameter naming the cache folder (e.g. "cache_dir")
    what: str  # e.g. "sentence embeddings, keyed by model, formatter version, precision and text"
    where: str  # the folder in use (the resolved default when the parameter is None)


def configured(model, settings: dict):
    """A fresh, unfitted copy of model with these settings over its parameters: what the protocol's questions take."""
    return type(model).from_settings({**model.settings(), **settings})


def halved_token_cap(param: str, cap: int, min_tokens: int) -> CheaperStep | None:
    """The token cap halved, never below min_tokens; None once the cap is at or below min_tokens."""
    if cap <= min_tokens:
        return None
    shorter = max(min_tokens, cap // 2)
    return CheaperStep("token_cap", f"token cap {cap} -> {shorter}", {param: shorter})


__all__ = ["STEP_KINDS", "SWAP_STEP", "CacheInfo", "CheaperStep", "configured", "halved_token_cap"]
