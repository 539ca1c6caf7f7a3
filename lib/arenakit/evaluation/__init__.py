"""Scoring and reporting: metrics, the plots people read, the data overview and the submission writer.

metrics     log loss, accuracy, per-class and by-length tables (evaluate)
plots       confusion matrix, reliability diagram, loss by length, importance, training curves, blend weights
overview    a first look at a competition folder
submission  turning predictions into a validated submission.csv
"""

__all__ = ["metrics", "overview", "plots", "submission"]
