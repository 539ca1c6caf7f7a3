"""Surface features of a parsed frame (length, structure, refusals, similarity): one float32 row per row.

    feats = surface_features(comp.train)          # index = the frame's index
    swap_features(feats)                          # == surface_features(swap_ab(comp.train))

Column naming is the contract that lets models augment with the A/B swap without featurizing
again; swap_features applies it and refuses a column outside it:

  <feature>_a, <feature>_b   one per response (chars_a, refusals_b, prompt_sim_a, ...); the swap
                             exchanges each pair. A name ending in _a/_b is always a side column.
  diff_<feature>             side feature of A minus that of B; negated by the swap.
  logratio_<feature>         log1p(A) - log1p(B) of a count; negated by the swap.
  pair_<feature>             symmetric in A and B (similarity, equality, min/max); unchanged.
  prompt_<feature>           the prompt alone; unchanged.

Per text: chars (code points), words (runs of non-blanks), lines, list_items (lines opening with
"- ", "* ", "+ ", "•", "1. " or "12) ", indented or not), headers ("# " to "###### "), code_blocks
(``` fences / 2, an unclosed one counts), bold (**x** spans), links (URLs and markdown links),
questions ("?" and "？"), nonascii_share, digit_share, newline_density; per response also turns,
nonempty_turns, refusals (refusal phrases, English and six other languages, in the first 200
characters of each turn), refusal_start (one in the response's first 200 characters), empty (no
text), null (every turn null, as "[null]") and prompt_sim. Counts are raw: models take logs.

Everything but the refusal phrases comes from a numpy scan of each column's UTF-8 bytes, a block
of rows at a time: on the full training set one regex pass costs about 0.1 s per pattern and
column and scikit-learn's char n-gram vectorizers about 25 s per column; the whole scan takes
about 2 s. The similarity of two texts is the Jaccard index of their byte trigram sets, hashed and
sampled (see _signature).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from arenakit.core.errors import check_saved_version

FEATURES_VERSION = 1

# Raw counts of every text (prompt and both responses); logratio_ is taken of these.
TEXT_COUNTS = ("chars", "words", "lines", "list_items", "headers", "code_blocks", "bold", "links", "questions")
TEXT_SHARES = ("nonascii_share", "digit_share", "newline_density")
RESPONSE_COUNTS = ("turns", "nonempty_turns", "refusals")
RESPONSE_FLAGS = ("refusal_start", "empty", "null")
SIDE_FEATURES = TEXT_COUNTS + RESPONSE_COUNTS + TEXT_SHARES + RESPONSE_FLAGS + ("prompt_sim",)
LOGRATIO_FEATURES = TEXT_COUNTS + RESPONSE_COUNTS
PROMPT_FEATURES = TEXT_COUNTS + TEXT_SHARES + ("turns",)
# 27 columns for a linear model. On the 999 real rows (5-fold, StandardScaler + LogisticRegression
# C=0.003, trained on both A/B orders, swap-averaged, log1p of counts) they score 1.018-1.025 out
# of fold over four fold seeds, all 89 columns 1.026-1.030. The structure logratios help most
# (0.014), then refusals and the pair lengths (0.004 each); the share columns hurt (0.001).
COMPACT_FEATURES = (
    "chars_a",
    "chars_b",
    "prompt_chars",
    "prompt_turns",
    "diff_chars",
    "logratio_chars",
    "logratio_words",
    "logratio_lines",
    "logratio_list_items",
    "logratio_headers",
    "logratio_bold",
    "logratio_code_blocks",
    "logratio_questions",
    "logratio_links",
    "diff_refusals",
    "diff_refusal_start",
    "refusal_start_a",
    "refusal_start_b",
    "diff_empty",
    "diff_prompt_sim",
    "pair_sim",
    "pair_equal",
    "pair_len_gap",
    "pair_both_empty",
    "pair_both_refusal",
    "pair_min_log_chars",
    "pair_max_log_chars",
)

# Refusal phrases, matched in lowercased text. A refusal opens a turn, so the count reads the
# first REFUSAL_WINDOW characters of each turn, which also bounds the cost of this slow pattern.
REFUSAL_WINDOW = 200
REFUSAL_START = 200
_REFUSAL = re.compile(
    r"i(?:['’]m sorry|['’]m not able to| am sorry| apologi[sz]e| cannot| can['’]t| am unable)"
    r"|as an? (?:ai\b|language model)"
    r"|抱歉|对不起|我不能|извините|я не могу|к сожалению|lo siento|je suis désolé|es tut mir leid|desculpe"
)

# Byte classes for the numpy scan. Byte 0 ends every text in the joined buffer (cleaned text has
# none), so it counts as space, and a line starts after it.
_BLANK = np.zeros(256, bool)
_BLANK[[9, 32]] = True
_DIGIT = np.zeros(256, bool)
_DIGIT[ord("0") : ord("9") + 1] = True
_BULLET = np.zeros(256, bool)
_BULLET[[ord("-"), ord("*"), ord("+")]] = True
_DOT = np.zeros(256, bool)
_DOT[[ord("."), ord(")")]] = True
_MARKED = _DIGIT.copy()  # the bytes _scan_block looks at again
_MARKED[[10, ord("?"), 0x9F, ord("`"), ord("*"), ord(":"), ord("]")]] = True
_MARKED[0xC0:] = True  # the first byte of a non-ASCII character
_MAX_INDENT = 16  # list markers and headers indented further than this are not seen
_BYTE_COUNTS = (
    "words",
    "digits",
    "nonascii",
    "newlines",
    "questions",
    "fences",
    "bold_marks",
    "links",
    "list_items",
    "headers",
)
_BLOCK_ROWS = 1024
# Similarity reads the first _SIM_BYTES bytes of a text and keeps the trigrams with one hash bit
# clear: the same half of all trigrams for every text, so the Jaccard index of the halves estimates
# that of the whole, at half the cost. The 2048-bit sets then stay under a third full, so hash
# collisions inflate it little (r = 0.98 with the exact index on the real rows).
_SIM_BYTES = 2000
_SIM_BITS = 11
_HASH = np.uint32(2654435761)  # Knuth's multiplicative hash
_BITS_SET = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _encode(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one UTF-8 buffer, each followed by a 0 byte, and where each text starts."""
    encoded = texts.str.encode("utf-8", errors="replace")
    starts = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)) + 1, out=starts[1:])
    return np.frombuffer(b"\0".join(encoded) + b"\0", np.uint8), starts


def _scan_block(buf: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_BYTE_COUNTS for each text of a block (one column each), and its trigram signature."""
    n_rows = len(starts) - 1
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(starts))
    space = buf <= 32  # cleaned text keeps no control bytes but tab and newline; 0 ends a text
    word_start = ~space
    word_start[1:] &= space[:-1]
    words = np.add.reduceat(word_start, starts[:-1], dtype=np.int64)

    # The other counts look at a few kinds of byte: find them in one pass, then look at their
    # neighbours. padded[p + 1] is buf[p], with room on both sides.
    padded = np.concatenate([np.zeros(1, np.uint8), buf, np.zeros(_MAX_INDENT + 4, np.uint8)])
    marked = np.flatnonzero(np.take(_MARKED, buf))
    byte = buf[marked]

    def around(positions: np.ndarray, shift: int) -> np.ndarray:
        return padded[positions + 1 + shift]

    def per_row(positions: np.ndarray) -> np.ndarray:
        return np.bincount(rows[positions], minlength=n_rows)

    def find(value: int) -> np.ndarray:
        return marked[byte == value]

    newlines = find(10)
    wide = find(0x9F)  # full-width ？ is EF BC 9F
    wide = wide[(around(wide, -1) == 0xBC) & (around(wide, -2) == 0xEF)]
    backticks = find(ord("`"))
    fences = backticks[(around(backticks, 1) == ord("`")) & (around(backticks, 2) == ord("`"))]
    fences = fences[around(fences, -1) != ord("`")]  # the first of three or more
    stars = find(ord("*"))
    stars = stars[(around(stars, 1) == ord("*")) & (around(stars, -1) != ord("*")) & (around(stars, 2) != ord("*"))]
    colons = find(ord(":"))
    urls = colons[(around(colons, 1) == ord("/")) & (around(colons, 2) == ord("/"))]
    brackets = find(ord("]"))
    brackets = brackets[around(brackets, 1) == ord("(")]
    # A markdown link to a URL is counted once, at its "://".
    markdown = brackets[~((around(brackets, 2) == ord("h")) & (around(brackets, 3) == ord("t")))]
    # The first byte of each line that is not a space or tab: where list markers and headers sit.
    first = np.concatenate([starts[:-1], newlines + 1])
    for _ in range(_MAX_INDENT):
        indented = _BLANK[around(first, 0)]
        if not indented.any():
            break
        first = first + indented
    c0, c1, c2, c3 = (around(first, k) for k in range(4))
    bullet = (_BULLET[c0] & _BLANK[c1]) | ((c0 == 0xE2) & (c1 == 0x80) & (c2 == 0xA2))  # "- ", "* ", "+ ", "•"
    numbered = _DIGIT[c0] & ((_DOT[c1] & _BLANK[c2]) | (_DIGIT[c1] & _DOT[c2] & _BLANK[c3]))  # "1. ", "12) "
    header = (c0 == ord("#")) & (_BLANK[c1] | (c1 == ord("#")))
    counts = [
        words,
        per_row(marked[_DIGIT[byte]]),
        per_row(marked[byte >= 0xC0]),
        per_row(newlines),
        per_row(find(ord("?"))) + per_row(wide),
        per_row(fences),
        per_row(stars),
        per_row(urls) + per_row(markdown),
        per_row(first[bullet | numbered]),
        per_row(first[header]),
    ]
    return np.stack(counts, axis=1), _signature(padded, starts)


def _signature(padded: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each text's set of sampled, hashed byte trigrams (first _SIM_BYTES bytes) as packed bits."""
    n_rows, spans, size = len(starts) - 1, np.diff(starts), starts[-1]
    # Four bytes read at every offset (little-endian); shifting out the fourth leaves the trigram.
    code = np.ndarray((size,), "<u4", buffer=padded, offset=1, strides=(1,)) << np.uint32(8)
    code *= _HASH
    # The trigram at p counts when it ends before its text's 0 byte and within _SIM_BYTES.
    window_end = np.minimum(starts[:-1] + _SIM_BYTES, starts[1:] - 1) - 2
    keep = np.arange(size, dtype=np.int32) < np.repeat(window_end.astype(np.int32), spans)
    keep &= (code & np.uint32(1 << (31 - _SIM_BITS))) == 0  # the bit below the slot's bits
    slots = np.repeat(np.arange(n_rows, dtype=np.int32) << _SIM_BITS, spans)
    slots |= (code >> np.uint32(32 - _SIM_BITS)).view(np.int32)
    bits = np.zeros(n_rows << _SIM_BITS, bool)
    bits[slots[np.flatnonzero(keep)]] = True
    return np.packbits(bits.reshape(n_rows, 1 << _SIM_BITS), axis=1)


def _popcount(packed: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(packed).sum(axis=1, dtype=np.int64)
    return _BITS_SET[packed].sum(axis=1, dtype=np.int64)


def _jaccard(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|x & y| / |x | y| of packed bit sets; 0 when both are empty (texts under three bytes)."""
    inter = _popcount(x & y)
    return inter / np.maximum(_popcount(x) + _popcount(y) - inter, 1)


def _byte_stats(texts: list[pd.Series]) -> tuple[list[dict[str, np.ndarray]], dict[tuple[int, int], np.ndarray]]:
    """_BYTE_COUNTS of each text column, and the trigram Jaccard index of each pair of columns."""
    encoded = [_encode(column) for column in texts]
    n = len(texts[0])
    counts = [np.zeros((n, len(_BYTE_COUNTS)), np.int64) for _ in texts]
    similarity = {pair: np.zeros(n) for pair in ((1, 2), (0, 1), (0, 2))}
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        signatures = []
        for column, (buf, starts) in enumerate(encoded):
            block, signature = _scan_block(buf[starts[lo] : starts[hi]], starts[lo : hi + 1] - starts[lo])
            counts[column][lo:hi] = block
            signatures.append(signature)
        for (i, j), out in similarity.items():
            out[lo:hi] = _jaccard(signatures[i], signatures[j])
    return [dict(zip(_BYTE_COUNTS, column.T)) for column in counts], similarity


def _refusals(texts: pd.Series, turns: pd.Series) -> dict[str, np.ndarray]:
    """Refusal phrases in the opening REFUSAL_WINDOW characters of each turn, and at the start.

    turns holds one turn per entry, indexed by the position of its row.
    """
    heads = turns.str.slice(0, REFUSAL_WINDOW).str.lower()
    per_turn = heads.str.count(_REFUSAL).fillna(0).astype(np.int64)
    count = per_turn.groupby(level=0).sum().reindex(range(len(texts)), fill_value=0).to_numpy(np.int64)
    # A phrase in the first REFUSAL_START characters lies in some turn's window, so only rows
    # with a count need the second look.
    start = np.zeros(len(texts), bool)
    candidates = np.flatnonzero(count)
    head = texts.iloc[candidates].str.slice(0, REFUSAL_START).str.lower()
    start[candidates] = head.str.contains(_REFUSAL).to_numpy(bool)
    return {"refusals": count, "refusal_start": start}


def _text_features(texts: pd.Series, stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    chars = texts.str.len().to_numpy(np.int64)
    per_char = np.maximum(chars, 1)
    return {
        "chars": chars,
        "words": stats["words"],
        "lines": stats["newlines"] + (chars > 0),
        "list_items": stats["list_items"],
        "headers": stats["headers"],
        "code_blocks": (stats["fences"] + 1) // 2,  # an unclosed fence still opens a block
        "bold": stats["bold_marks"] // 2,
        "links": stats["links"],
        "questions": stats["questions"],
        "nonascii_share": stats["nonascii"] / per_char,
        "digit_share": stats["digits"] / per_char,
        "newline_density": stats["newlines"] / per_char,
    }


def surface_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The surface features of a parsed frame: length, structure, refusal and similarity columns (module docstring)."""
    texts = [frame["prompt"], frame["response_a"], frame["response_b"]]
    byte_stats, similarity = _byte_stats(texts)
    prompt = _text_features(texts[0], byte_stats[0])
    prompt["turns"] = frame["n_turns"].to_numpy(np.int64)
    side = {}
    for i, key in enumerate(("a", "b"), start=1):
        turns = frame[f"response_turns_{key}"].reset_index(drop=True)
        each_turn = turns.explode()
        values = _text_features(texts[i], byte_stats[i])
        values.update(_refusals(texts[i], each_turn))
        values.update(
            turns=turns.map(len).to_numpy(np.int64),
            nonempty_turns=(each_turn.str.len() > 0).groupby(level=0).sum().to_numpy(),
            empty=values["chars"] == 0,
            null=frame[f"null_response_{key}"].to_numpy(bool),
            prompt_sim=similarity[(0, i)],
        )
        # float64 until the end: a - b and log1p(a) - log1p(b) then round to exactly -(b - a).
        side[key] = {name: np.asarray(values[name], np.float64) for name in SIDE_FEATURES}
    a, b = side["a"], side["b"]
    log_a, log_b = np.log1p(a["chars"]), np.log1p(b["chars"])
    columns = {f"prompt_{name}": prompt[name] for name in PROMPT_FEATURES}
    for name in SIDE_FEATURES:
        columns[f"{name}_a"], columns[f"{name}_b"] = a[name], b[name]
    for name in SIDE_FEATURES:
        columns[f"diff_{name}"] = a[name] - b[name]
    for name in LOGRATIO_FEATURES:
        columns[f"logratio_{name}"] = np.log1p(a[name]) - np.log1p(b[name])
    columns.update(
        pair_sim=similarity[(1, 2)],
        pair_equal=(texts[1] == texts[2]).to_numpy(bool),
        pair_len_gap=np.abs(a["chars"] - b["chars"]) / np.maximum(np.maximum(a["chars"], b["chars"]), 1),
        pair_both_empty=np.minimum(a["empty"], b["empty"]),
        pair_both_refusal=np.minimum(a["refusal_start"], b["refusal_start"]),
        pair_min_log_chars=np.minimum(log_a, log_b),
        pair_max_log_chars=np.maximum(log_a, log_b),
    )
    return pd.DataFrame({name: np.asarray(values, np.float32) for name, values in columns.items()}, index=frame.index)


def check_features_version(saved: int) -> None:
    """Refuse artifacts whose features were computed by another version of this module."""
    check_saved_version("features", saved, FEATURES_VERSION)


def swap_features(features: pd.DataFrame) -> pd.DataFrame:
    """The features of the A/B-swapped frame, from the features alone (naming rules above)."""
    renames, negate, unknown = {}, [], []
    for column in features.columns:
        if column.endswith(("_a", "_b")):
            partner = column[:-1] + ("b" if column.endswith("_a") else "a")
            if partner not in features.columns:
                unknown.append(column)
            renames[column] = partner
        elif column.startswith(("diff_", "logratio_")):
            negate.append(column)
        elif not column.startswith(("pair_", "prompt_")):
            unknown.append(column)
    if unknown:
        raise ValueError(
            f"swap_features: column(s) {', '.join(unknown)} follow no swap rule. Name them <x>_a with <x>_b, "
            "diff_<x>, logratio_<x>, pair_<x> or prompt_<x>, or drop them before swapping."
        )
    swapped = features.rename(columns=renames)[list(features.columns)]
    # 0 - x rather than -x: a zero difference stays +0.0, as featurizing the swapped frame gives.
    swapped[negate] = np.float32(0) - swapped[negate]
    return swapped
