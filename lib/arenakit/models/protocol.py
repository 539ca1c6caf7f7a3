"""What generic code (the ensemble's budget, its timer, the bench) may know about a model, without reading its parameters.

A model declares these (defaults on arenakit.models.base.ArenaModel; subclasses override):
whether one pass is symmetric under an A/B swap, the ordered ways to run cheaper at inference
(cheaper_steps), which settings it takes anew at inference (inference_params) and what it caches.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP_KINDS = ("swap_average", "token_cap")  # the budget's rounds, cheapest-quality-first


@dataclass(frozen=True)
class CheaperStep:
    kind: str  # one of STEP_KINDS
    name: str  # what the notebook prints, e.g. "swap-averaging off", "token cap 256 -> 128"
    settings: dict  # inference settings that apply it, e.g. {"swap_average": False} or {"max_seq_length": 128}


@dataclass(frozen=True)
class CacheInfo:
    param: str  # the parameter naming its cache folder (e.g. "cache_dir"); the timer points it at a fresh folder
    what: str  # e.g. "sentence embeddings, keyed by model, formatter version, precision and text"
    where: str  # the folder in use (resolved default when the parameter is None)
