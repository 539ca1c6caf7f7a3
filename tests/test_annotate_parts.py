"""The annotation parts on their own: taxonomy checks, answer parsing, the record file's damage rules."""

from __future__ import annotations

import json

import pytest

from arenakit.annotate.__main__ import main
from arenakit.annotate.parsing import looks_like_refusal, parse_answer
from arenakit.annotate.records import AnnotationFileError, RecordStore, annotation_key, read_annotations
from arenakit.data.taxonomy import DEFAULT_TAXONOMY, TaxonomyError, load_taxonomy


def test_the_default_taxonomy_is_the_papers_shape():
    taxonomy = load_taxonomy()
    groups = [p.group for p in taxonomy.properties]
    assert (groups.count("basic"), groups.count("query_aware"), groups.count("query_specific")) == (18, 2, 5)
    assert {p.kind for p in taxonomy.properties if p.group == "query_specific"} == {"yes_no"}
    assert taxonomy.tag == "preference-properties@1" and len(taxonomy.examples) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("version"), "missing field(s) version"),
        (
            lambda d: d["properties"][3].update(kind="scale"),
            "properties[3] ('polite') has kind 'scale'; use one of rating, yes_no",
        ),
        (lambda d: d["properties"].append(dict(d["properties"][0])), "repeated name(s) harmlessness"),
        (lambda d: d["examples"][1]["ratings"].update(shows_empathy=2), "examples[1]: ratings['shows_empathy'] is 2"),
    ],
)
def test_a_bad_taxonomy_names_the_field(tmp_path, change, message):
    data = json.loads(DEFAULT_TAXONOMY.read_text())
    change(data)
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TaxonomyError, match="taxonomy.json") as error:
        load_taxonomy(path)
    assert message in str(error.value)


def test_answers_are_read_in_the_forms_judges_write():
    taxonomy = load_taxonomy()
    names = taxonomy.names
    # Bare values, strings and yes/no words, nested one level down, after an echoed template.
    answer = {name: ("yes" if p.kind == "yes_no" else "3") for name, p in zip(names, taxonomy.properties)}
    text = f'Template: {{"harmlessness": {{"rating": "0-3"}}}}\nAnswer: {json.dumps({"ratings": answer})} done'
    parsed = parse_answer(text, taxonomy)
    assert parsed.complete and set(parsed.ratings.values()) == {1, 3}
    # Out of range or missing: that property is None and the answer is not complete.
    bad = dict(answer, harmlessness=7)
    bad.pop("length")
    parsed = parse_answer(json.dumps(bad), taxonomy)
    assert not parsed.complete and parsed.ratings["harmlessness"] is None and parsed.ratings["length"] is None
    assert parse_answer("no json here", taxonomy).found_json is False
    assert looks_like_refusal("I cannot assist with that.") and not looks_like_refusal('I can\'t decide: {"x": 1}')


def test_a_damaged_line_before_the_last_is_refused_with_its_number(tmp_path):
    path = tmp_path / "annotations.jsonl"
    good = {"key": annotation_key("p", "r", "t@1", "j"), "outcome": "ok", "ratings": {}}
    path.write_text(json.dumps(good) + "\nnot a record\n" + json.dumps(dict(good, key="b")) + "\n")
    with pytest.raises(AnnotationFileError, match=r"annotations.jsonl: line 2 is not an annotation record"):
        RecordStore(path)
    # A last record that lost only its newline is kept, and the newline restored before appending.
    path.write_text(json.dumps(good))
    store = RecordStore(path)
    store.append(dict(good, key="c"))
    store.close()
    assert list(read_annotations(path)) == [good["key"], "c"] and "lacked its newline" in store.notes[0]


def test_bad_arguments_and_files_give_one_line(tmp_path, capsys):
    (tmp_path / "taxonomy.json").write_text("{not json")
    code = main(["--extra", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.jsonl"), "--model", "m"])
    assert code == 1 and "missing.csv: file not found" in capsys.readouterr().err
    code = main(["--extra", "x.csv", "--out", "o.jsonl", "--model", "m", "--taxonomy", str(tmp_path / "taxonomy.json")])
    assert code == 1 and "taxonomy.json: not valid JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--data-dir", "d", "--out", "o.jsonl"])
    assert "name the judge" in capsys.readouterr().err


def test_a_long_response_keeps_its_head_and_tail_within_the_budget():
    from arenakit.annotate.prompt import PromptBuilder
    from arenakit.inputs.embedder import default_model_path
    from arenakit.models.lora.backbone import load_tokenizer

    tokenizer = load_tokenizer(default_model_path())
    builder = PromptBuilder(load_taxonomy(), tokenizer, max_conversation_tokens=64)
    middle = " ".join(f"filler{k}" for k in range(400))
    (text,) = builder.conversations([(("Say something long.",), (f"Opening words. {middle} Closing words.",))])
    assert text.startswith("[User]\nSay something long.\n\n[Assistant]\nOpening words.") and text.endswith(
        "Closing words."
    )
    assert "filler200" not in text and len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 64
    assert builder.messages(text)[-1] == {"role": "user", "content": text}
