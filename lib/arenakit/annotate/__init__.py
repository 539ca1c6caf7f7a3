"""LLM-judged response properties (the McGill paper's augmented models, after Li et al.'s taxonomy).

    python -m arenakit.annotate --data-dir data --out build/annotations.jsonl \\
        --base-url http://127.0.0.1:8000/v1 --model meta-llama/Llama-3.1-70B-Instruct --concurrency 64
    python -m arenakit.annotate --data-dir data --out build/annotations.jsonl --local Qwen/Qwen2.5-7B-Instruct

One JSONL record per distinct (prompt, response), keyed by a hash of (prompt, response, taxonomy
and prompt version, judge); see arenakit.data.annotations for its fields. Code that uses the ratings
(the property features, python -m arenakit.train properties) reads them with
arenakit.data.annotations (read_annotations, choose_source, response_keys, side_ratings).
"""

from arenakit.annotate.records import AnnotationFileError, annotation_key, read_annotations
from arenakit.annotate.runner import annotate
from arenakit.data.annotations import response_keys

__all__ = ["AnnotationFileError", "annotate", "annotation_key", "read_annotations", "response_keys"]
