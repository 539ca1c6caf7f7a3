"""A synthetic sample in the competition's exact format: the kit's default data set.

The main job and the tests run on it, so it mimics the real files where the kit's code could trip:
JSON lists of turns (ensure_ascii, "/" escaped as "\\/"), multi-turn rows, null turns and "[null]"
responses, markdown, code fences, refusals, several scripts, lognormal lengths with a long tail.
Labels come from a hidden, noisy preference rule (length, structure, code, refusals, model offsets),
so models can learn something but not everything; the longer answer wins about 65% of decided rows
(64% in the real sample), and length alone gives a log loss near 1.04 (ln 3 = 1.10).

Text is assembled from pools of pre-escaped pieces picked with numpy index arrays: joining escaped
pieces gives the same bytes as escaping the joined text, and it keeps 57k rows to a few seconds.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from arenakit.core.schema import (
    CLASS_COLUMNS,
    SAMPLE_SUBMISSION_FILE,
    SUBMISSION_COLUMNS,
    TEST_COLUMNS,
    TEST_FILE,
    TEXT_COLUMNS,
    TRAIN_COLUMNS,
    TRAIN_FILE,
)
from arenakit.data.synthetic import text as txt

LEAD, PARA, STRUCT, CODE, PROMPT, FOLLOWUP, REFUSAL = range(7)
POOL_SIZE = 256  # pieces per (topic, kind)
ID_LOW, ID_HIGH = 30_000, 4_300_000_000
SEP = "\\n\\n"  # a blank line, already JSON-escaped

# The hidden preference rule. Tuned so classes come out about 35% A / 34% B / 31% tie.
W_LOG_LEN, W_STRUCT, W_CODE, W_REFUSAL, W_NULL = 0.25, 0.3, 0.7, 3.0, 3.0
NOISE, POSITION_BIAS = 1.0, 0.03
TIE_BASE, TIE_SHORT, TIE_ALIKE, TIE_BOTH_FAILED = 0.6, 0.5, 0.2, 1.5

_TOPICS = list(txt.TOPICS.values())
_MODELS = txt.MODELS


def _escape(text: str) -> str:
    """The body of a JSON string the way the real files write it."""
    return json.dumps(text, ensure_ascii=True)[1:-1].replace("/", "\\/")


def _fill(template: str, terms: tuple, r: np.ndarray) -> str:
    a, b = terms[r[0] % len(terms)], terms[r[1] % len(terms)]
    fn = txt.FUNCTION_NAMES[r[2] % len(txt.FUNCTION_NAMES)]
    for slot, value in (
        ("{a}", a),
        ("{A}", a[:1].upper() + a[1:]),
        ("{b}", b),
        ("{fn}", fn),
        ("{Fn}", fn.title().replace("_", "")),
    ):
        template = template.replace(slot, value)
    return template


def _piece(topic: txt.Topic, kind: int, r: np.ndarray) -> str:
    """One unescaped piece of text; r holds pre-drawn random integers."""
    lang = topic.kind if topic.kind in txt.SENTENCES else "en"
    lines = {"creative": txt.CREATIVE_LINES, "short": txt.SHORT_ANSWERS}.get(topic.kind, txt.SENTENCES[lang])

    def sentence(i):
        return _fill(lines[r[i] % len(lines)], topic.terms, r[i + 1 :])

    n = 2 + r[10] % 4
    if kind == LEAD and (lang != "en" or topic.kind == "short"):
        return sentence(3)
    if kind == LEAD:
        return _fill(txt.LEADS[r[3] % len(txt.LEADS)], topic.terms, r)
    if kind == PARA:
        joiner = {"creative": "\n", "zh": "", "ja": ""}.get(topic.kind, " ")
        return joiner.join(sentence(i) for i in range(n))
    if kind == STRUCT:
        term = topic.terms[r[4] % len(topic.terms)]
        head = f"### {term[:1].upper() + term[1:]}" if r[5] % 2 else txt.LIST_INTROS[r[5] % 4]
        items = [f"{i + 1}. **{topic.terms[r[i] % len(topic.terms)]}:** {sentence(i)}" for i in range(n + 1)]
        if r[6] % 3 == 0:
            items = [f"- {item.split(' ', 1)[1]}" for item in items]
        return head + "\n\n" + "\n".join(items)
    if kind == CODE and topic.code:
        snippets = txt.CODE[topic.code]
        code = _fill(snippets[r[7] % len(snippets)], topic.terms, r)
        return f"Here is an example:\n\n```{topic.code}\n{code}\n```\n\n{sentence(8)}"
    if kind == CODE:
        return _piece(topic, PARA, r)
    if kind == PROMPT:
        return _fill(topic.prompts[r[3] % len(topic.prompts)], topic.terms, r)
    if kind == FOLLOWUP:
        return _fill(txt.FOLLOWUPS[r[3] % len(txt.FOLLOWUPS)], topic.terms, r)
    refusals = txt.REFUSALS.get(lang, txt.REFUSALS["en"])
    return _fill(refusals[r[3] % len(refusals)], topic.terms, r)


def _pools(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Escaped pieces laid out as [topic, kind, POOL_SIZE], flattened, and each topic's mean block length."""
    shape = (len(_TOPICS), REFUSAL + 1, POOL_SIZE)
    draws = rng.integers(0, 1 << 30, size=(*shape, 12))
    pool = np.array([_escape(_piece(_TOPICS[t], k, draws[t, k, j])) for t, k, j in np.ndindex(shape)], dtype=object)
    lengths = np.fromiter(map(len, pool), dtype=np.int64, count=pool.size).reshape(shape)
    block_len = lengths[:, PARA : STRUCT + 1].mean(axis=(1, 2)) + len(SEP)
    return pool, block_len


def _join(pieces: list, counts: np.ndarray, sep: str) -> list:
    """Join consecutive runs of `pieces`, run i being counts[i] long."""
    ends = np.cumsum(counts).tolist()
    return [sep.join(pieces[e - c : e]) for c, e in zip(counts.tolist(), ends)]


def _count(owner: np.ndarray, flags: np.ndarray, n: int) -> np.ndarray:
    """Per-owner sums of flags (owner i owns the entries equal to i)."""
    return np.bincount(owner, weights=flags, minlength=n)


def _pick(rng, topic: np.ndarray, kind) -> np.ndarray:
    """Random pool indices of the given kind(s), each from its own topic's pieces."""
    return (topic * (REFUSAL + 1) + kind) * POOL_SIZE + rng.integers(0, POOL_SIZE, size=len(topic))


def _prompts(rng, pool, topic, first) -> list:
    """One escaped prompt per turn: a question, maybe a context sentence, maybe a pasted text."""
    n = len(topic)
    question = pool[_pick(rng, topic, np.where(first, PROMPT, FOLLOWUP))]
    extra = pool[_pick(rng, topic, PARA)]
    has_extra = rng.random(n) < 0.5
    n_paste = np.where(first & (rng.random(n) < 0.15), np.ceil(rng.lognormal(0.7, 1.0, n)), 0).astype(int)
    pasted = _join(pool[_pick(rng, np.repeat(topic, n_paste), PARA)].tolist(), n_paste, SEP)
    return [
        q + (" " + e.split(". ")[0] + "." if x else "") + (SEP + p if p else "")
        for q, e, x, p in zip(question, extra, has_extra.tolist(), pasted)
    ]


def _responses(rng, pool, block_len, topic, model, n_turns):
    """One escaped text per turn, plus per-turn refusal flag and counts of struct and code blocks."""
    n = len(topic)
    kinds = np.array([t.kind for t in _TOPICS])[topic]
    prof = {f: np.array([getattr(m, f) for m in _MODELS])[model] for f in ("verbosity", "structure", "refusal")}
    p_refuse = np.where(kinds == "sensitive", 0.45, 0.006) * prof["refusal"]
    refused = rng.random(n) < np.minimum(p_refuse, 0.95)
    scale = np.select([kinds == "short", kinds == "code", kinds == "creative"], [0.25, 1.2, 0.8], 1.0)
    target = 1100 * prof["verbosity"] * scale / np.sqrt(n_turns) * rng.lognormal(0.0, 0.85, n)
    n_blocks = np.floor(np.minimum(target, 40_000) / block_len[topic] + rng.random(n)).astype(int)
    n_blocks[refused] = 0
    owner = np.repeat(np.arange(n), n_blocks)
    p_code = np.where(kinds == "code", 0.45, 0.0)[owner]
    p_struct = prof["structure"] * rng.uniform(0.2, 1.8, n) * np.where(np.isin(kinds, ["short", "creative"]), 0.3, 1)
    u = rng.random(len(owner))
    block_kind = np.where(u < p_code, CODE, np.where(u < p_code + p_struct[owner], STRUCT, PARA))
    lead = np.where(refused, _pick(rng, topic, REFUSAL), _pick(rng, topic, LEAD))
    counts = 1 + n_blocks
    index = np.empty(counts.sum(), dtype=np.int64)
    starts = np.cumsum(counts) - counts
    index[starts] = lead
    index[np.setdiff1d(np.arange(len(index)), starts, assume_unique=True)] = _pick(rng, topic[owner], block_kind)
    texts = _join(pool[index].tolist(), counts, SEP)
    return texts, refused, _count(owner, block_kind == STRUCT, n), _count(owner, block_kind == CODE, n)


def _fields(texts: list, null: np.ndarray, turn_row: np.ndarray, n_rows: int) -> list:
    """JSON lists of turns, one per row, with null turns written as JSON null."""
    turns = ["null" if z else f'"{t}"' for t, z in zip(texts, null.tolist())]
    return [f"[{s}]" for s in _join(turns, np.bincount(turn_row, minlength=n_rows), ",")]


def generate(n_train: int, n_test: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw train and test frames in the competition's format (TRAIN_COLUMNS, TEST_COLUMNS)."""
    if n_train < 0 or n_test < 0:
        raise ValueError(f"row counts must be >= 0, got n_train={n_train}, n_test={n_test}")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    pool, block_len = _pools(rng)
    topic = rng.choice(len(_TOPICS), n, p=_normalized([t.weight for t in _TOPICS]))
    model_p = _normalized([m.weight for m in _MODELS])
    models = rng.choice(len(_MODELS), (2, n), p=model_p)
    while (same := models[0] == models[1]).any():
        models[1, same] = rng.choice(len(_MODELS), same.sum(), p=model_p)
    n_turns = np.where(rng.random(n) < 0.12, rng.choice([2, 3, 4], n, p=[0.6, 0.25, 0.15]), 1)
    turn_row = np.repeat(np.arange(n), n_turns)
    first = np.r_[True, turn_row[1:] != turn_row[:-1]]
    prompts = _fields(_prompts(rng, pool, topic[turn_row], first), np.zeros(len(turn_row), bool), turn_row, n)

    single = (n_turns == 1)[turn_row]
    candidates = np.flatnonzero(n_turns[:n_train] == 1)
    forced = rng.choice(candidates, min(1, len(candidates)))  # a row where both responses are "[null]"
    fields, feats = [], []
    for side in range(2):
        texts, refused, n_struct, n_code = _responses(
            rng, pool, block_len, topic[turn_row], models[side][turn_row], n_turns[turn_row]
        )
        null = rng.random(len(turn_row)) < np.where(single, 0.002, 0.01)
        null[np.isin(turn_row, forced)] = True
        fields.append(_fields(texts, null, turn_row, n))
        length = np.fromiter(map(len, fields[side]), dtype=np.int64, count=n)
        feats.append(
            (
                length,
                _count(turn_row, n_struct, n) > 0,
                _count(turn_row, n_code, n) > 0,
                _count(turn_row, refused & ~null, n) / n_turns,
                _count(turn_row, null, n) / n_turns,
            )
        )
    labels = _labels(rng, feats, models)

    ids = ID_LOW + rng.choice(ID_HIGH - ID_LOW, n, replace=False)
    ids = np.r_[np.sort(ids[:n_train]), np.sort(ids[n_train:])].astype(np.int64)
    frame = pd.DataFrame(
        {
            "id": ids,
            "model_a": [_MODELS[i].name for i in models[0]],
            "model_b": [_MODELS[i].name for i in models[1]],
            "prompt": prompts,
            "response_a": fields[0],
            "response_b": fields[1],
            **{c: (labels == k).astype(np.int64) for k, c in enumerate(CLASS_COLUMNS)},
        }
    )
    frame = frame.astype({c: str for c in ("model_a", "model_b", *TEXT_COLUMNS)})  # str even when empty
    return (
        frame.iloc[:n_train][list(TRAIN_COLUMNS)].reset_index(drop=True),
        frame.iloc[n_train:][list(TEST_COLUMNS)].reset_index(drop=True),
    )


def _normalized(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _labels(rng, feats, models) -> np.ndarray:
    """The hidden preference rule: 0 = A wins, 1 = B wins, 2 = tie.

    Each response gets a latent score; a tie when the two are close, closer counting as a tie when the
    answers look alike (both short, same markdown style, both refused or both missing).
    """
    quality = np.array([m.quality for m in _MODELS])
    scores = []
    for side, (length, struct, code, refused, null) in enumerate(feats):
        scores.append(
            W_LOG_LEN * np.log1p(length)
            + W_STRUCT * struct
            + W_CODE * code
            - W_REFUSAL * refused
            - W_NULL * null
            + quality[models[side]]
            + NOISE * rng.gumbel(size=len(length))
        )
    (len_a, struct_a, _, ref_a, null_a), (len_b, struct_b, _, ref_b, null_b) = feats
    both_failed = ((ref_a > 0) & (ref_b > 0)) | ((null_a > 0) & (null_b > 0))
    threshold = (
        TIE_BASE
        + TIE_SHORT * ((len_a < 400) & (len_b < 400))
        + TIE_ALIKE * (struct_a == struct_b)
        + TIE_BOTH_FAILED * both_failed
    )
    diff = scores[0] - scores[1] + POSITION_BIAS
    return np.where(np.abs(diff) < threshold, 2, np.where(diff > 0, 0, 1))


def write_sample(out_dir, n_train: int = 2000, n_test: int = 200, seed: int = 0) -> Path:
    """Write train.csv, test.csv and sample_submission.csv into out_dir (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, test = generate(n_train, n_test, seed)
    train.to_csv(out / TRAIN_FILE, index=False)
    test.to_csv(out / TEST_FILE, index=False)
    submission = pd.DataFrame({"id": test["id"], **{c: 1 / len(CLASS_COLUMNS) for c in CLASS_COLUMNS}})
    submission[list(SUBMISSION_COLUMNS)].to_csv(out / SAMPLE_SUBMISSION_FILE, index=False)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the kit's synthetic competition sample.")
    parser.add_argument("out_dir")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = write_sample(args.out_dir, args.train_rows, args.test_rows, args.seed)
    print(f"{out}: {args.train_rows} train rows, {args.test_rows} test rows (seed {args.seed})")
