"""The kit's models. Each follows scikit-learn's conventions (parameters in __init__, fit returns
self, learned state ends in "_", predict_proba returns (n, 3) in CLASS_COLUMNS order) and adds
save(dir) / load(dir), so the CV runner, the ensemble and the tests treat them all the same way.
"""

from arenakit.models.base import FoldEnsemble, load_model

__all__ = ["FoldEnsemble", "load_model"]
