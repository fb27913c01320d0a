"""Anchor sets: the on-disk format, located load errors, ratings tables, lint, demo sets."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness.anchors import (
    MAX_PROBLEMS,
    AnchorError,
    AnchorSet,
    LintFinding,
    Problem,
    RatingsTable,
    lint_anchor_set,
    load_anchor_set,
    load_ratings,
    open_ratings,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECIPES_SRC = PROJECT_ROOT.parent / "shared" / "data" / "recipes"
RECIPES_OUT = PROJECT_ROOT / "anchors" / "recipes"
CRITERIA = ("grammar", "fluency", "verbosity", "structure", "success", "overall")

# --------------------------------------------------------------------------- helpers


def header(**over: Any) -> dict[str, Any]:
    h: dict[str, Any] = {
        "judgecal_anchor_set": 1, "name": "t", "criterion": "helpfulness",
        "description": None, "rubric": "Rate helpfulness.",
        "scale": {"min": 1, "max": 6, "labels": None}, "consensus": "mean",
        "na_allowed": False, "source": "test", "attribution": None, "licence": "CC0",
    }
    h.update(over)
    return {k: v for k, v in h.items() if v is not ...}


def item(iid: str, split: str = "calibration", **over: Any) -> dict[str, Any]:
    it: dict[str, Any] = {
        "id": iid, "input": "q", "output": f"output of {iid}",
        "ratings": {"r1": 3, "r2": 4, "r3": 5}, "rationale": "because", "split": split,
    }
    it.update(over)
    return {k: v for k, v in it.items() if v is not ...}


def write(tmp_path: Path, lines: list[Any], name: str = "x.jsonl") -> Path:
    """Write objects (dumped) or raw strings, one per line."""
    path = tmp_path / name
    text = "\n".join(ln if isinstance(ln, str) else json.dumps(ln) for ln in lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> AnchorError:
    with pytest.raises(AnchorError) as info:
        load_anchor_set(path)
    return info.value


def messages(err: AnchorError) -> list[str]:
    return str(err).splitlines()


# --------------------------------------------------------------------------- demo sets


@pytest.fixture(scope="module")
def ratings_csv() -> pd.DataFrame:
    if not RECIPES_SRC.is_dir():
        pytest.fail(f"shared recipe data not found at {RECIPES_SRC}")
    return pd.read_csv(RECIPES_SRC / "ratings.csv")


@pytest.mark.parametrize("criterion", CRITERIA)
def test_demo_set_loads_and_is_split_by_recipe(criterion: str) -> None:
    aset = load_anchor_set(RECIPES_OUT / f"recipes-{criterion}.jsonl")
    assert aset.meta.name == f"recipes-{criterion}"
    assert aset.meta.criterion == criterion
    assert (aset.meta.scale.min, aset.meta.scale.max, aset.meta.scale.labels) == (1, 6, None)
    assert aset.meta.consensus == "mean" and not aset.meta.na_allowed
    assert "CC BY 4.0" in aset.meta.licence and "Stein" in aset.meta.attribution
    criteria = json.loads((RECIPES_SRC / "criteria.json").read_text("utf-8"))
    crit = next(c for c in criteria["criteria"] if c["name"] == criterion)
    assert aset.meta.rubric == "\n\n".join([
        criteria["general_instruction"], crit["task_instruction"],
        f"Statement: {crit['statement']}",
    ])
    assert len(aset.items) == 52
    cal, hold = aset.split("calibration"), aset.split("holdout")
    assert (len(cal), len(hold)) == (21, 31)
    assert cal.meta is aset.meta and cal.subset == "calibration"

    def recipes(s: AnchorSet) -> set[str]:
        return {t for it in s.items for t in it.tags if t.startswith("recipe:")}

    assert not recipes(cal) & recipes(hold)
    assert len(recipes(cal)) == 5 and len(recipes(hold)) == 7  # 4 + 6 recipes, 1 filler each
    assert sum("filler" in it.tags for it in cal.items) == 1
    assert sum("filler" in it.tags for it in hold.items) == 1
    assert len(aset.rater_ids) == 88
    assert aset.rater_ids[:3] == ["participant_0", "participant_1", "participant_2"]
    for it in aset.items:
        assert it.rationale and it.rationale.startswith(f"Mean of {len(it.ratings)} crowd ratings")
        assert it.input.startswith("Cooking instructions for: ")
        if "filler" in it.tags:
            assert it.edge_case and it.edge_case.startswith("Filler item")


def test_demo_overall_lint_meets_the_guidance() -> None:
    aset = load_anchor_set(RECIPES_OUT / "recipes-overall.jsonl")
    findings = lint_anchor_set(aset)
    assert [f for f in findings if f.level == "warning"] == []
    # crowd raters disagree: every info is a high-spread note on one item
    assert {f.code for f in findings} == {"high-spread"}
    assert all(f.item_id for f in findings)


def test_demo_grammar_lint_finding_is_legitimate() -> None:
    # the split is chosen on `overall`; on `grammar` the calibration split has few low items
    aset = load_anchor_set(RECIPES_OUT / "recipes-grammar.jsonl")
    warnings = [f for f in lint_anchor_set(aset) if f.level == "warning"]
    assert [f.code for f in warnings] == ["spectrum-low"]
    cons = aset.split("calibration").consensus()
    n_low = sum(c <= 2.25 for c in cons.values())
    assert n_low < 3
    assert warnings[0].message.startswith(f"{n_low} clearly low")


def test_demo_sets_rebuild_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "recipes"
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "build_recipe_anchors.py"),
         "--source", str(RECIPES_SRC), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    committed = sorted(p.name for p in RECIPES_OUT.iterdir())
    rebuilt = sorted(p.name for p in out.iterdir())
    assert committed == rebuilt
    for name in committed:
        assert (RECIPES_OUT / name).read_bytes() == (out / name).read_bytes(), name


def test_demo_licences_copied_and_attribution_present() -> None:
    for name in ("LICENSE", "LICENSE.cc-by"):
        assert (RECIPES_OUT / name).read_bytes() == (RECIPES_SRC / name).read_bytes()
    attribution = (RECIPES_OUT / "ATTRIBUTION.md").read_text("utf-8")
    provenance = (RECIPES_SRC / "PROVENANCE.md").read_text("utf-8")
    start = provenance.index("**Attribution notice")
    block = provenance[start:provenance.index("\n## Citation", start)].strip()
    assert block in attribution
    assert "@inproceedings{stein2023sentence," in attribution


@pytest.mark.parametrize(
    ("criterion", "item_id"),
    [
        ("overall", "baked_ziti_5_dependency"),
        ("overall", "waffles_7_original"),
        ("overall", "coherence_homemade_graham_crackers_8_coherence"),
        ("grammar", "garam_masala_3_coref"),
        ("grammar", "grammaticality_peanut_butter_bars_8_grammaticality"),
    ],
)
def test_demo_consensus_is_the_mean_of_the_source_ratings(
    ratings_csv: pd.DataFrame, criterion: str, item_id: str
) -> None:
    rows = ratings_csv[(ratings_csv.criterion == criterion) & (ratings_csv.item_id == item_id)]
    expected = rows.score.mean()
    table = load_anchor_set(RECIPES_OUT / f"recipes-{criterion}.jsonl").to_ratings()
    i = table.item_ids.index(item_id)
    assert table.consensus[i] == pytest.approx(expected, abs=1e-12)
    assert np.count_nonzero(~np.isnan(table.scores[i])) == len(rows)
    for rater, score in zip(rows.rater_id, rows.score, strict=True):
        assert table.column(rater)[i] == score
    assert table.n_na == 0
    assert table.n_missing == table.scores.size - len(ratings_csv) // len(CRITERIA)


# --------------------------------------------------------------------------- valid sets


def test_valid_set_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(scale={"min": 1, "max": 5, "labels": {"1": "bad", "5": "good"}}),
        item("a", ratings={"r10": 1, "r2": 2, "r1": 4}),
        item("b", split="holdout", consensus=4.5, ratings={"r1": 2}),
        "",
        item("c", split="holdout", ratings={"r1": 1, "r2": 2, "r3": 5}, consensus=None),
    ])
    aset = load_anchor_set(path)
    assert [it.id for it in aset.items] == ["a", "b", "c"]
    assert [it.line for it in aset.items] == [2, 3, 5]
    assert aset.rater_ids == ["r1", "r2", "r3", "r10"]
    assert aset.meta.scale.labels == {"1": "bad", "5": "good"}
    assert aset.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert aset.consensus() == {"a": pytest.approx(7 / 3), "b": 4.5, "c": pytest.approx(8 / 3)}
    table = aset.to_ratings()
    assert table.item_ids == ["a", "b", "c"] and table.rater_ids == ["r1", "r2", "r3", "r10"]
    assert table.scale == (1.0, 5.0)
    np.testing.assert_allclose(table.consensus, [7 / 3, 4.5, 8 / 3])
    hold = aset.split("holdout").to_ratings()
    assert hold.item_ids == ["b", "c"] and hold.source.endswith("(holdout)")
    with pytest.raises(ValueError, match="unknown split"):
        aset.split("test")


def test_median_rule_and_rubric_file(tmp_path: Path) -> None:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "r.md").write_text("Rubric from a file.\n", encoding="utf-8")
    path = write(tmp_path, [
        header(rubric=..., rubric_file="rubrics/r.md", consensus="median"),
        item("a", ratings={"r1": 1, "r2": 2, "r3": 6}),
    ])
    aset = load_anchor_set(path)
    assert aset.meta.rubric == "Rubric from a file.\n"
    assert aset.meta.rubric_file == "rubrics/r.md"
    assert aset.to_ratings().consensus[0] == 2.0


def test_na_and_missing_are_counted_separately(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(na_allowed=True),
        item("a", ratings={"r1": 4, "r2": "NA", "r3": None}),     # r4 absent
        item("b", ratings={"r1": "NA", "r2": "NA", "r4": 2}),
        item("c", split="holdout", ratings={"r3": 6, "r4": None}),
    ])
    aset = load_anchor_set(path)
    assert aset.items[0].na_raters() == ["r2"]
    assert aset.items[0].missing_raters() == ["r3"]
    table = aset.to_ratings()
    assert table.rater_ids == ["r1", "r2", "r3", "r4"]
    assert table.n_na == 3
    assert table.n_scores == 3
    assert table.n_missing == 12 - 3 - 3
    assert table.na_counts_by_item() == {"a": 1, "b": 2, "c": 0}
    assert table.na_counts_by_rater() == {"r1": 1, "r2": 2, "r3": 0, "r4": 0}
    assert np.isnan(table.scores[table.na]).all()
    # the consensus leaves N/A and missing out
    np.testing.assert_allclose(table.consensus, [4.0, 2.0, 6.0])


# --------------------------------------------------------------------------- load errors


def test_anchor_error_pickles() -> None:
    import pickle

    err = AnchorError([Problem("x.jsonl", 3, "split", "bad")], n_more=2)
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)
    assert str(err) == "x.jsonl:3: split: bad\n… and 2 more problem(s) not shown"


def test_missing_file(tmp_path: Path) -> None:
    err = errors_of(tmp_path / "nope.jsonl")
    assert len(err.problems) == 1
    # an absolute path is not said twice ("... (looked for <the same path>)")
    assert str(err) == f"{tmp_path / 'nope.jsonl'}: no such anchor-set file"


def test_a_missing_relative_path_says_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = errors_of(Path("nope.jsonl"))
    assert str(err) == f"nope.jsonl: no such anchor-set file (looked for {tmp_path.resolve()}"\
                       "/nope.jsonl)"


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content, encoding="utf-8")
    err = errors_of(path)
    assert err.problems == [Problem(str(path), None, None, err.problems[0].message)]
    assert "file is empty" in str(err)


def test_header_only(tmp_path: Path) -> None:
    err = errors_of(write(tmp_path, [header()]))
    assert messages(err) == [f"{tmp_path / 'x.jsonl'}: no items after the header"]


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    bad = '{"id": "b", "input": "q" "output": "o", "split": "holdout"}'
    path = write(tmp_path, [header(), item("a"), bad, item("c", split="holdout")])
    err = errors_of(path)
    assert messages(err) == [
        f"{path}:3: malformed JSON at column 26: Expecting ',' delimiter"
    ]
    assert err.problems[0].line == 3 and err.problems[0].field is None


def test_first_line_not_a_header(tmp_path: Path) -> None:
    path = write(tmp_path, [item("a"), item("b", split="holdout")])
    err = errors_of(path)
    (msg,) = messages(err)
    assert msg.startswith(f"{path}:1: not an anchor-set header")
    assert "looks like an item" in msg


def test_second_header_and_non_object_lines(tmp_path: Path) -> None:
    path = write(tmp_path, [header(), item("a"), header(), "[1, 2]"])
    assert messages(errors_of(path)) == [
        f"{path}:3: a second header line; only the first line is the header",
        f"{path}:4: expected a JSON object, got [1, 2]",
    ]


def test_header_fields_are_validated(tmp_path: Path) -> None:
    h = header(consensus="average", scale={"min": 1, "max": 6, "lables": None}, name=...)
    h["licence_url"] = "x"
    path = write(tmp_path, [h, item("a")])
    msgs = messages(errors_of(path))
    p = f"{path}:1"
    assert f"{p}: name: required field is missing" in msgs
    assert f"{p}: scale.lables: unknown field (did you mean 'labels'?)" in msgs
    assert (f"{p}: consensus: \"average\" is not allowed; use 'mean', 'median' or "
            "'explicit'") in msgs
    assert any(m.startswith(f"{p}: licence_url: unknown field") for m in msgs)


def test_header_version_scale_and_rubric(tmp_path: Path) -> None:
    path = write(tmp_path, [header(judgecal_anchor_set=2), item("a")])
    assert messages(errors_of(path)) == [
        f"{path}:1: judgecal_anchor_set: unsupported format version 2 (this judgecal reads "
        "version 1)"
    ]
    path = write(tmp_path, [header(scale={"min": 5, "max": 1, "labels": None}), item("a")])
    assert messages(errors_of(path)) == [f"{path}:1: scale: min (5) must be below max (1)"]
    path = write(tmp_path, [header(scale={"min": 1, "max": 5, "labels": {"7": "x"}}), item("a")])
    assert messages(errors_of(path)) == [
        f"{path}:1: scale.labels.7: label for 7, which is off the scale 1–5"
    ]
    path = write(tmp_path, [header(rubric_file="r.md"), item("a")])
    assert messages(errors_of(path)) == [
        f"{path}:1: rubric: give exactly one of 'rubric' (the text) and 'rubric_file' (a path "
        "relative to the set file)"
    ]
    path = write(tmp_path, [header(rubric=..., rubric_file="missing.md"), item("a")])
    (msg,) = messages(errors_of(path))
    assert msg.startswith(f"{path}:1: rubric_file: rubric file 'missing.md' not found")


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, [header(), item("a"), item("b"), item("a", output="other")])
    assert messages(errors_of(path)) == [
        f"{path}:4: item 'a': id: duplicate id 'a' (also on line 2)"
    ]


def test_score_off_the_scale(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(), item("a"), item("r-07", ratings={"rater_1": 2, "rater_3": 7, "rater_4": 0.5}),
    ])
    err = errors_of(path)
    assert messages(err) == [
        f"{path}:3: item 'r-07': ratings.rater_3: score 7 is off the scale 1–6",
        f"{path}:3: item 'r-07': ratings.rater_4: score 0.5 is off the scale 1–6",
    ]
    assert err.problems[0] == Problem(str(path), 3, "ratings.rater_3",
                                      "score 7 is off the scale 1–6", "r-07")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"four"', 'score "four" is not a number (use a number, "NA" for not applicable, or '
                   "null for missing)"),
        ("true", "score true is not a number (a boolean, not a score)"),
        ('"n/a"', 'score "n/a": write "not applicable" as the string "NA"'),
        ("[4]", "score [4] is not a number"),
    ],
)
def test_non_numeric_scores(tmp_path: Path, value: str, expected: str) -> None:
    bad = ('{"id": "b", "input": "q", "output": "o", "ratings": {"r1": 4, "r2": ' + value
           + '}, "split": "calibration"}')
    path = write(tmp_path, [header(), item("a"), bad])
    assert messages(errors_of(path)) == [f"{path}:3: item 'b': ratings.r2: {expected}"]


def test_nan_is_not_json(tmp_path: Path) -> None:
    bad = '{"id": "b", "input": "q", "output": "o", "ratings": {"r1": NaN}, "split": "holdout"}'
    path = write(tmp_path, [header(), item("a"), bad])
    assert messages(errors_of(path)) == [f"{path}:3: malformed JSON: NaN is not valid JSON"]


def test_na_needs_na_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, [header(), item("a", ratings={"r1": 4, "r2": "NA"})])
    assert messages(errors_of(path)) == [
        f"{path}:2: item 'a': ratings.r2: \"NA\" (not applicable) is not allowed: the header "
        "has na_allowed false"
    ]
    path = write(tmp_path, [header(na_allowed=True), item("a", ratings={"r1": 4, "r2": "NA"})])
    assert load_anchor_set(path).to_ratings().n_na == 1


def test_item_without_any_score(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(na_allowed=True),
        item("a"),
        item("b", ratings={}),
        item("c", ratings={"r1": "NA", "r2": None}),
        item("d", ratings={}, consensus=3),
    ])
    assert messages(errors_of(path)) == [
        f"{path}:3: item 'b': ratings: no numeric ratings and no consensus: the item has no "
        "score to calibrate against",
        f"{path}:4: item 'c': ratings: no numeric ratings and no consensus (every rating is N/A "
        "or missing): the item has no score to calibrate against",
    ]


def test_consensus_off_the_scale_and_explicit_rule(tmp_path: Path) -> None:
    path = write(tmp_path, [header(), item("a", consensus=6.5), item("b", consensus=True)])
    assert messages(errors_of(path)) == [
        f"{path}:2: item 'a': consensus: consensus 6.5 is off the scale 1–6",
        f"{path}:3: item 'b': consensus: expected a number, got true",
    ]
    path = write(tmp_path, [header(consensus="explicit"), item("a", consensus=2), item("b")])
    assert messages(errors_of(path)) == [
        f"{path}:3: item 'b': consensus: the set's consensus rule is 'explicit', so every item "
        "needs a consensus"
    ]


def test_missing_and_unknown_item_fields(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(),
        item("a", output=...),
        item("b", ratng={"r1": 3}),
        item(..., split=...),
        item("d", tags=["ok", 3], output="   "),
    ])
    assert messages(errors_of(path)) == [
        f"{path}:2: item 'a': output: required field is missing",
        f"{path}:3: item 'b': ratng: unknown field (did you mean 'ratings'?)",
        f"{path}:4: id: required field is missing",
        f"{path}:4: split: required field is missing",
        f"{path}:5: item 'd': tags[1]: expected a string, got 3",
        f"{path}:5: item 'd': output: the output (the text being judged) is empty",
    ]


def test_bad_split_value(tmp_path: Path) -> None:
    path = write(tmp_path, [header(), item("a"), item("b", split="test")])
    assert messages(errors_of(path)) == [
        f"{path}:3: item 'b': split: \"test\" is not allowed; use 'calibration' or 'holdout'"
    ]


def test_duplicate_json_key(tmp_path: Path) -> None:
    bad = ('{"id": "b", "input": "q", "output": "o", "ratings": {"r1": 4, "r1": 5}, '
           '"split": "holdout"}')
    path = write(tmp_path, [header(), item("a"), bad])
    assert messages(errors_of(path)) == [
        f"{path}:3: r1: key given twice in one object (the last value would win)"
    ]


def test_leakage_names_both_items_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(),
        item("a", output="The Answer is 42."),
        item("b"),
        item("h1", split="holdout", output="  the answer IS\n 42. "),
        item("h2", split="holdout", output="output of b, but longer"),
        item("a2", output="the answer is 42."),  # same split: not leakage
    ])
    err = errors_of(path)
    assert messages(err) == [
        f"{path}:4: item 'h1': output: leakage: the same output as calibration item 'a' "
        "(line 2); an output must not appear in both splits"
    ]


def test_all_problems_are_collected_up_to_the_cap(tmp_path: Path) -> None:
    lines: list[Any] = [header()] + [item(f"i{k}", ratings={"r1": 9}) for k in range(60)]
    err = errors_of(write(tmp_path, lines))
    assert len(err.problems) == MAX_PROBLEMS and err.n_more == 10
    assert [p.line for p in err.problems] == list(range(2, 52))
    assert messages(err)[-1] == "… and 10 more problem(s) not shown"


def test_problems_from_many_lines_in_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, [
        header(), item("a", ratings={"r1": 0}), "{oops", item("c", split="nope"),
    ])
    err = errors_of(path)
    assert [p.line for p in err.problems] == [2, 3, 4]
    assert len(messages(err)) == 3


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        (json.dumps(header()) + "\n" + json.dumps(item("a")) + "\n").encode()
        + b'{"id": "\xff"}\n'
    )
    (msg,) = messages(errors_of(path))
    assert msg.startswith(f"{path}:3: not valid UTF-8")


# --------------------------------------------------------------------------- ratings table


def _table() -> RatingsTable:
    scores = np.array([[1.0, np.nan, 3.0], [np.nan, 5.0, np.nan]])
    na = np.array([[False, True, False], [False, False, False]])
    return RatingsTable(["i1", "i2"], ["a", "b", "c"], scores, na,
                        np.array([2.0, 5.0]), (1.0, 5.0), "t.csv")


def test_ratings_table_methods() -> None:
    t = _table()
    np.testing.assert_array_equal(t.column("c"), [3.0, np.nan])
    d = t.drop_rater("b")
    assert d.rater_ids == ["a", "c"] and d.na.sum() == 0 and d.scores.shape == (2, 2)
    np.testing.assert_array_equal(d.consensus, t.consensus)
    s = t.subset(["i2"])
    assert s.item_ids == ["i2"] and s.scores.shape == (1, 3) and s.consensus.tolist() == [5.0]
    assert t.n_missing == 2 and t.n_na == 1
    with pytest.raises(KeyError, match=r"no rater 'z' in t\.csv; known raters: a, b, c"):
        t.column("z")
    with pytest.raises(KeyError, match="no rater 'z'"):
        t.drop_rater("z")
    with pytest.raises(KeyError, match="no item 'i9'"):
        t.subset(["i9"])
    with pytest.raises(ValueError, match="shape"):
        RatingsTable(["i1"], ["a"], np.zeros((2, 1)), np.zeros((2, 1), bool))


def test_unknown_rater_among_many_is_summarised() -> None:
    raters = [f"participant_{k}" for k in range(30)]
    t = RatingsTable(["i"], raters, np.ones((1, 30)), np.zeros((1, 30), bool), source="s")
    with pytest.raises(KeyError, match=r"no rater 'participant_99' in s \(30 raters\)"):
        t.column("participant_99")


def test_load_ratings_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "item_id,rater_id,score,note\n"
        "i1,r2,4,x\n"
        "i1,r10,,\n"            # empty: missing
        "i2,r2,NA,\n"
        "i2,r10,n/a,\n"
        '"i3",r1," 2.5 ","multi\nline"\n'
        "i3,r2,6,\n",
        encoding="utf-8",
    )
    t = load_ratings(path)
    assert t.item_ids == ["i1", "i2", "i3"] and t.rater_ids == ["r1", "r2", "r10"]
    assert t.consensus is None and t.scale is None and t.source == str(path)
    assert t.n_na == 2 and t.n_scores == 3
    assert t.n_missing == 9 - 2 - 3
    assert t.na_counts_by_item() == {"i1": 0, "i2": 2, "i3": 0}
    assert t.column("r1")[2] == 2.5
    assert load_ratings(path, scale=(1, 6)).scale == (1.0, 6.0)


def test_load_ratings_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("item_id,rater,score\ni1,r1,3\n", encoding="utf-8")
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    assert str(info.value) == (f"{path}:1: rater_id: missing column 'rater_id' (header: "
                               "item_id, rater, score)")

    path.write_text(
        "item_id,rater_id,score\n"
        "i1,r1,3\n"
        "i1,r2,four\n"
        '"i2",r1,"5\n'            # a quoted field spanning lines 4-5
        '"\n'
        "i1,r1,4\n"
        "i2,r2,9\n"
        ",r3,1\n"
        "i3,r3\n",
        encoding="utf-8",
    )
    with pytest.raises(AnchorError) as info:
        load_ratings(path, scale=(1, 6))
    assert str(info.value).splitlines() == [
        f"{path}:3: score: score 'four' is not a number (write a plain decimal number such "
        "as 4 or 3.5, NA, or leave it empty)",
        f"{path}:6: duplicate rating of item 'i1' by rater 'r1' (first on line 2)",
        f"{path}:7: score: score 9 is off the scale 1–6",
        f"{path}:8: item_id: item_id must be a non-empty string, got \"\"",
        f"{path}:9: row has 2 fields but the header has 3",
    ]
    # without a scale the 9 is fine, the others are not
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    assert [p.line for p in info.value.problems] == [3, 6, 8, 9]


def test_load_ratings_empty_unsupported_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(AnchorError, match="file is empty"):
        load_ratings(empty)
    only_header = tmp_path / "h.csv"
    only_header.write_text("item_id,rater_id,score\n", encoding="utf-8")
    with pytest.raises(AnchorError, match=r"h\.csv: no ratings in the file"):
        load_ratings(only_header)
    with pytest.raises(AnchorError, match="unsupported ratings file type '.xlsx'"):
        load_ratings(tmp_path / "r.xlsx")
    with pytest.raises(AnchorError, match="no such file"):
        load_ratings(tmp_path / "nope.csv")


def test_load_ratings_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    rows = [
        {"item_id": "i1", "rater_id": "judge", "score": 4, "extra": 1},
        {"item_id": "i1", "rater_id": "h1", "score": None},
        {"item_id": "i2", "rater_id": "h1", "score": "NA"},
        {"item_id": 7, "rater_id": "h1", "score": "3"},
    ]
    write(tmp_path, rows, "r.jsonl")
    t = load_ratings(path)
    assert t.item_ids == ["i1", "i2", "7"] and t.rater_ids == ["h1", "judge"]
    assert t.n_na == 1 and t.n_scores == 2 and t.n_missing == 3

    write(tmp_path, [
        {"item_id": "i1", "rater_id": "a", "score": 2},
        {"item_id": "i1", "rater_id": "a", "score": 3},
        {"item_id": "i2", "rater_id": "a", "score": True},
        {"item_id": "i3", "rater_id": "a"},
        "{bad",
    ], "r.jsonl")
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: duplicate rating of item 'i1' by rater 'a' (first on line 1)",
        f"{path}:3: score: score true is not a number",
        f"{path}:4: score: missing key 'score'",
        f"{path}:5: malformed JSON at column 2: Expecting property name enclosed in double "
        "quotes",
    ]


def test_open_ratings_dispatches(tmp_path: Path) -> None:
    aset_path = write(tmp_path, [header(), item("a"), item("b", split="holdout")])
    t = open_ratings(aset_path, split="holdout")
    assert t.item_ids == ["b"] and t.consensus is not None and t.scale == (1.0, 6.0)
    assert open_ratings(aset_path, scale=(1, 6)).item_ids == ["a", "b"]
    with pytest.raises(AnchorError, match="anchor set's scale is 1–6"):
        open_ratings(aset_path, scale=(1, 5))
    only_cal = write(tmp_path, [header(), item("a")], "c.jsonl")
    with pytest.raises(AnchorError, match="no holdout items"):
        open_ratings(only_cal, split="holdout")
    long_path = write(tmp_path, [{"item_id": "a", "rater_id": "r", "score": 3}], "l.jsonl")
    assert open_ratings(long_path).consensus is None
    with pytest.raises(AnchorError, match="applies only to anchor sets"):
        open_ratings(long_path, split="holdout")
    with pytest.raises(AnchorError, match="is an anchor set"):
        load_ratings(aset_path)
    # a broken anchor set is reported as an anchor set, not as a ratings file
    broken = write(tmp_path, ['{"judgecal_anchor_set": 1, "name": ', item("a")], "b.jsonl")
    with pytest.raises(AnchorError, match=r"b\.jsonl:1: malformed JSON"):
        open_ratings(broken)


# --------------------------------------------------------------------------- lint


def _spread_items(n_cal: int = 18, n_hold: int = 12) -> list[dict[str, Any]]:
    """Calibration items covering the 1–6 spectrum, with rationales and an edge case."""
    levels = [1, 2, 6, 5, 3, 4]
    items = []
    for k in range(n_cal):
        v = levels[k % len(levels)]
        items.append(item(f"c{k}", ratings={"r1": v, "r2": v, "r3": v},
                          edge_case="tricky" if k == 0 else None))
    for k in range(n_hold):
        v = levels[k % len(levels)]
        items.append(item(f"h{k}", split="holdout", ratings={"r1": v, "r2": v, "r3": v}))
    return items


def _codes(findings: list[LintFinding], level: str = "warning") -> list[str]:
    return [f.code for f in findings if f.level == level]


def test_lint_clean_set(tmp_path: Path) -> None:
    aset = load_anchor_set(write(tmp_path, [header(), *_spread_items()]))
    assert lint_anchor_set(aset) == []


def test_lint_too_few_items_and_no_holdout(tmp_path: Path) -> None:
    aset = load_anchor_set(write(tmp_path, [header(), *_spread_items(n_cal=6, n_hold=0)]))
    findings = lint_anchor_set(aset)
    assert _codes(findings) == ["calibration-size", "spectrum-high", "spectrum-low",
                                "spectrum-boundary", "no-holdout"]
    assert findings[0].message.startswith("6 calibration items; the guidance is 15–25")
    assert findings[1].message.startswith("2 clearly high (consensus >= 4.75")


def test_lint_too_many_and_small_holdout(tmp_path: Path) -> None:
    aset = load_anchor_set(write(tmp_path, [header(), *_spread_items(n_cal=30, n_hold=4)]))
    assert _codes(lint_anchor_set(aset)) == ["calibration-size", "holdout-small"]


def test_lint_missing_spectrum(tmp_path: Path) -> None:
    items = [item(f"c{k}", ratings={"r1": 3, "r2": 4, "r3": 4}, edge_case="e")
             for k in range(16)]
    items += [item(f"h{k}", split="holdout") for k in range(10)]
    findings = lint_anchor_set(load_anchor_set(write(tmp_path, [header(), *items])))
    assert _codes(findings) == ["spectrum-high", "spectrum-low"]
    assert findings[0].message == ("0 clearly high (consensus >= 4.75, the top quarter of the "
                                   "1–6 scale) calibration item(s); want at least 3")


def test_lint_missing_rationales_edge_cases_and_few_raters(tmp_path: Path) -> None:
    items = _spread_items()
    for it in items:
        it["edge_case"] = None
    items[3]["rationale"] = None
    items[7]["rationale"] = "  "
    items[20]["rationale"] = None
    items[5]["ratings"] = {"r1": 4, "r2": 4}
    findings = lint_anchor_set(load_anchor_set(write(tmp_path, [header(), *items])))
    assert _codes(findings) == ["missing-rationale", "no-edge-cases", "few-raters"]
    assert findings[0].message == "3 item(s) have no rationale: c3, c7, h2"
    assert findings[2].item_id == "c5"
    assert findings[2].message.startswith("2 numeric rating(s), fewer than 3")


def test_lint_high_spread_is_info_and_provenance(tmp_path: Path) -> None:
    items = _spread_items()
    items[4]["ratings"] = {"r1": 1, "r2": 3, "r3": 5}
    aset = load_anchor_set(write(tmp_path, [header(source=None, licence=None), *items]))
    findings = lint_anchor_set(aset)
    assert _codes(findings) == []
    infos = [f for f in findings if f.level == "info"]
    assert [(f.code, f.item_id) for f in infos] == [("high-spread", "c4"),
                                                     ("provenance", None)]
    assert infos[0].message.startswith("raters disagree: SD 2 > 0.5 (10% of the scale range)")


def test_lint_overlap_on_a_set_built_in_code(tmp_path: Path) -> None:
    aset = load_anchor_set(write(tmp_path, [header(), *_spread_items()]))
    twin = aset.items[0].model_copy(update={"split": "holdout"})
    bad = AnchorSet(aset.path, aset.meta, [*aset.items, twin], aset.content_hash)
    findings = lint_anchor_set(bad)
    assert [(f.code, f.item_id) for f in findings] == [("holdout-overlap", "c0")] * 2


# --------------------------------------------------------------------------- CLI


def test_cli_lint_exit_codes(tmp_path: Path) -> None:
    typer_testing = pytest.importorskip("typer.testing")
    try:
        from harness.cli import app
    except ImportError as exc:  # the CLI is developed separately
        pytest.skip(f"CLI not importable: {exc}")
    runner = typer_testing.CliRunner()
    ok = runner.invoke(app, ["anchors", "lint", str(RECIPES_OUT / "recipes-overall.jsonl")])
    assert ok.exit_code == 0, ok.output
    bad = write(tmp_path, [header(), item("a", ratings={"r1": 9})])
    res = runner.invoke(app, ["anchors", "lint", str(bad)])
    assert res.exit_code == 2


# --------------------------------------------------------------------------- hostile input


def _deep(n: int = 100_000) -> str:
    return "[" * n + "]" * n


def test_deeply_nested_json_is_a_located_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = write(tmp_path, [header(), item("a"), '{"id": "b", "tags": ' + _deep() + "}",
                            _deep()])
    err = errors_of(path)
    assert [p.line for p in err.problems] == [3, 4]
    assert all("nested too deeply" in p.message for p in err.problems)
    path = write(tmp_path, [_deep()], "h.jsonl")
    assert messages(errors_of(path))[0].startswith(f"{path}:1: malformed JSON: nested too deeply")


def test_deeply_nested_ratings_jsonl_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, [{"item_id": "i1", "rater_id": "a", "score": 2},
                            '{"item_id": "i2", "rater_id": "a", "score": ' + _deep() + "}"],
                 "r.jsonl")
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    assert str(info.value).startswith(f"{path}:2: malformed JSON: nested too deeply")


@pytest.mark.parametrize("text", ["1_0", "nan", "inf", "-Infinity", "\u0661", "0x10", "1e999",
                                  "4\u2003", "+-1"])
def test_ratings_csv_scores_must_be_plain_decimal_numbers(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"item_id,rater_id,score\ni1,r1,3\ni1,r2,{text}\n", encoding="utf-8")
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (3, "score")
    assert "not a" in problem.message


def test_ratings_jsonl_string_scores_are_parsed_strictly(tmp_path: Path) -> None:
    path = write(tmp_path, [{"item_id": "i1", "rater_id": "a", "score": "1_0"},
                            {"item_id": "i1", "rater_id": "b", "score": "NaN"},
                            {"item_id": "i1", "rater_id": "c", "score": "2.5"}], "r.jsonl")
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    assert [(p.line, p.field) for p in info.value.problems] == [(1, "score"), (2, "score")]
    assert "score '1_0' is not a number (write a plain decimal number" in str(info.value)


def test_label_keys_are_plain_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, [header(scale={"min": 1, "max": 20, "labels": {"1_0": "ten"}}),
                            item("a")])
    assert messages(errors_of(path)) == [
        f"{path}:1: scale.labels.1_0: label keys must be scale points (numbers written as "
        'strings, e.g. "1")']


@pytest.mark.parametrize(("field", "raw"), [("max", "1e999"), ("min", "-1e999")])
def test_header_scale_must_be_finite(tmp_path: Path, field: str, raw: str) -> None:
    text = json.dumps(header()).replace(f'"{field}": {1 if field == "min" else 6}',
                                        f'"{field}": {raw}')
    assert raw in text
    path = write(tmp_path, [text, item("a")])
    err = errors_of(path)
    assert [(p.line, p.field) for p in err.problems] == [(1, f"scale.{field}")]
    assert "not a finite number" in str(err)


def _rubric_set(directory: Path, rubric_file: str, name: str = "x.jsonl") -> Path:
    return write(directory, [header(rubric=..., rubric_file=rubric_file),
                             item("a"), item("b", split="holdout")], name)


@pytest.mark.parametrize("rubric_file", ["../outside.md", "/etc/passwd", "sub/../../outside.md",
                                         "link.md"])
def test_rubric_file_is_confined_to_the_set_directory(tmp_path: Path, rubric_file: str) -> None:
    sets = tmp_path / "sets"
    sets.mkdir()
    (tmp_path / "outside.md").write_text("secret\n", encoding="utf-8")
    (sets / "sub").mkdir()
    (sets / "link.md").symlink_to(tmp_path / "outside.md")
    path = _rubric_set(sets, rubric_file)
    err = errors_of(path)
    (problem,) = err.problems
    assert (problem.line, problem.field) == (1, "rubric_file")
    assert "must be a file inside the anchor set's directory" in problem.message
    assert "secret" not in str(err)


def test_rubric_file_in_a_subdirectory_is_read(tmp_path: Path) -> None:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "r.md").write_bytes(b"Rubric\r\nfrom a file.\n")
    aset = load_anchor_set(_rubric_set(tmp_path, "rubrics/r.md"))
    assert aset.meta.rubric == "Rubric\r\nfrom a file.\n"
    assert aset.meta.rubric_file == "rubrics/r.md"


def test_a_rubric_edit_changes_the_hashes_the_gate_compares(tmp_path: Path) -> None:
    rubric = tmp_path / "r.md"
    rubric.write_text("Score 1-6 for helpfulness.\n", encoding="utf-8")
    path = _rubric_set(tmp_path, "r.md")
    before = load_anchor_set(path)
    rubric.write_text("Score 1-6 for helpfulness; be lenient.\n", encoding="utf-8")
    after = load_anchor_set(path)
    assert after.items_hash("holdout") != before.items_hash("holdout")
    assert after.items_hash() != before.items_hash()
    assert after.content_hash != before.content_hash
    assert after.split("holdout").content_hash == after.content_hash
    # an inline rubric is part of the items hash as well
    inline = write(tmp_path, [header(), item("a"), item("b", split="holdout")], "i.jsonl")
    edited = write(tmp_path, [header(rubric="Rate helpfulness strictly."), item("a"),
                              item("b", split="holdout")], "j.jsonl")
    assert (load_anchor_set(inline).items_hash("holdout")
            != load_anchor_set(edited).items_hash("holdout"))


def test_a_csv_given_as_an_anchor_set_is_one_problem_that_says_what_reads_it(tmp_path):
    """`anchors lint ratings.csv` listed 50 'malformed JSON' lines."""
    path = tmp_path / "ratings.csv"
    path.write_text("item_id,rater_id,score\n" + "".join(f"i{k},a,3\n" for k in range(60)))
    err = errors_of(path)
    assert len(err.problems) == 1 and err.problems[0].line == 1
    assert "not an anchor set" in str(err) and "judgecal agree" in str(err)


def test_a_directory_or_a_missing_file_without_a_suffix_says_so(tmp_path):
    """`agree DIR` said "unsupported ratings file type '(none)'"."""
    from harness.anchors import load_ratings

    with pytest.raises(AnchorError, match="is a directory, not a ratings file"):
        load_ratings(tmp_path)
    with pytest.raises(AnchorError, match="no such file"):
        load_ratings(tmp_path / "ratings")
