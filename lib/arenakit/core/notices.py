"""Problems the reader must not miss, shown in bold: Markdown in a notebook, **text** on a terminal."""

from __future__ import annotations


def notice(text: str) -> str:
    """Show `text` in bold and return the Markdown shown, so callers can also keep a record of it."""
    message = f"**{text}**"
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(message))
    else:
        print(message)
    return message
