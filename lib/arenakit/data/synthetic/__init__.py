"""The kit's embedded default data: a synthetic sample in the competition's exact file format.

sample   the generator (generate, write_sample) and its hidden preference rule
text     the words, templates and chatbot profiles it draws from
"""

from arenakit.data.synthetic.sample import generate, write_sample

__all__ = ["generate", "write_sample"]
