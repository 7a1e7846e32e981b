"""Data loading: the original synthetic data, bundled datasets, CSV files, and clear errors."""

import pytest

from search.data import DataError, load_dataset


def test_default_is_the_original_synthetic_problem_split_stratified():
    data = load_dataset()
    assert data.n_samples == 1000 and data.n_features == 20
    assert len(data.y_test) == 250
    assert abs(data.y_train.mean() - data.y_test.mean()) < 0.01  # stratified


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_bundled_datasets_load_by_name(name):
    data = load_dataset(name, test_size=0.3)
    assert data.n_samples > 100 and data.source == name


def test_csv_with_target_column(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["a,b,label"] + [f"{i},{i % 7},{i % 2}" for i in range(40)]
    path.write_text("\n".join(rows))
    data = load_dataset(str(path), target="label", test_size=0.25, split_seed=1)
    assert data.n_features == 2 and data.n_samples == 40


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        (None, "y", "no such file"),
        ("", "y", "is empty"),
        ("a,b\n1,2\n3,4\n", "y", "has no target column 'y'"),
        ("a,y\n", "y", "has no rows"),
        ("a,y\n1,\n2,\n", "y", "has no value in its target column 'y'"),
        ("a,b,y\n" + "5,,0\n5,,1\n" * 4, "y", "has no usable feature column"),
        ("a,y\n" + "1,cat\n2,dog\n" * 10 + "3,bird\n", "y",
         "class 'bird' has a single row in 'y', .* add rows of that class, or leave its row out"),
    ],
)
def test_unusable_csv_gives_one_line_naming_the_problem(tmp_path, content, target, message):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(str(path), target=target)
    assert "\n" not in str(caught.value)


def test_unknown_name_without_target_explains_both_options():
    with pytest.raises(DataError, match=r"not a bundled dataset.*--target"):
        load_dataset("mnist")


def test_class_labels_past_64_bits_are_two_classes_scikit_learn_can_score(tmp_path):
    from search.evaluation import Scoring

    big, bigger = 12345678901234567890123, 98765432109876543210987
    path = tmp_path / "ids.csv"
    path.write_text("\n".join(["a,b,y"] + [f"{i},{i % 7},{(big, bigger)[i % 2]}" for i in range(40)]))
    data = load_dataset(str(path), target="y")
    assert data.task == "classification" and set(data.y_train) == {str(big), str(bigger)}
    Scoring("accuracy").check(data)  # scikit-learn said "unknown is not supported" of the numbers


def test_fractional_values_asked_to_be_classes_are_classes(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("\n".join(["a,b,y"] + [f"{i},{i % 7},{(0.5, 1.5, 2.25)[i % 3]}" for i in range(60)]))
    data = load_dataset(str(path), target="y", task="classification")
    assert sorted(set(data.y_train)) == ["0.5", "1.5", "2.25"]


@pytest.mark.parametrize(("name", "test_size", "message"), [
    ("synthetic", 0.999, r"--test-size 0.999 splits the 1000 rows of synthetic into 1 to train on and 999 to test: "
                         r"each side needs at least one row of each of its 2 classes \(try --test-size 0.25\)"),
    ("diabetes", 0.999, r"splits the 442 rows of diabetes into 0 to train on and 442 to test: each side needs two"),
    ("iris", 0.01, r"splits the 150 rows of iris into 148 to train on and 2 to test: each side needs at least one "
                   r"row of each of its 3 classes"),
])
def test_a_split_with_a_side_too_small_is_said_in_our_words(name, test_size, message):
    with pytest.raises(DataError, match=message):
        load_dataset(name, test_size=test_size)


def test_a_target_of_only_spaces_is_blank_and_its_row_left_out_with_a_note(tmp_path):
    path = tmp_path / "votes.csv"
    rows = [f"{i},{i % 7},{('yes', 'no', '   ')[i % 3]}" for i in range(60)]
    path.write_text("\n".join(["a,b,vote", *rows]))
    data = load_dataset(str(path), target="vote")
    assert sorted(set(data.y_train) | set(data.y_test)) == ["no", "yes"]
    assert "20 row(s) with no 'vote' are left out" in data.notes


def test_column_names_that_differ_only_in_case_or_spaces_are_said(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("\n".join(["Age,age ,y"] + [f"{i % 50},{(i * 7) % 50},{i % 2}" for i in range(60)]))
    data = load_dataset(str(path), target="y")
    assert data.n_features == 2
    assert ("columns 'Age' and 'age ' differ only in case or spaces: they are taken as two features (rename one, "
            "or leave it out, if they are the same)") in data.notes


def test_a_wide_table_is_said_to_be_wide_before_any_trial_and_its_columns_sorted_as_a_narrow_ones(tmp_path):
    import numpy as np
    import pandas as pd

    from search.columns import WIDE_COLUMNS

    rows = 60
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(rows, WIDE_COLUMNS)),
                         columns=[f"c{i}" for i in range(WIDE_COLUMNS)])
    frame["row_id"], frame["flat"], frame["blank"] = range(rows), 1.0, np.nan
    frame["name"] = [f"n{i}" for i in range(rows)]
    frame["kind"] = ["a", "b", None] * (rows // 3)
    frame["y"] = [i % 2 for i in range(rows)]
    frame.to_csv(tmp_path / "wide.csv", index=False)
    data = load_dataset(str(tmp_path / "wide.csv"), target="y")
    assert data.columns.dropped == {"row_id": "an ID (unique per row)", "flat": "constant", "blank": "empty",
                                    "name": "an ID (unique per row)"}
    assert data.columns.categorical == ("kind",) and len(data.columns.numeric) == WIDE_COLUMNS
    wide = [note for note in data.notes if note.startswith("a wide table")]
    assert wide == [f"a wide table, {WIDE_COLUMNS + 1:,} feature columns, more than its {rows} rows: a model can "
                    "fit noise; every fit reads each column, so trials take longer than on a narrow table: choose "
                    "the columns that matter to go faster"]
    frame.drop(columns=[f"c{i}" for i in range(3, WIDE_COLUMNS)]).to_csv(tmp_path / "narrow.csv", index=False)
    narrow = load_dataset(str(tmp_path / "narrow.csv"), target="y")
    assert narrow.columns.dropped == data.columns.dropped and narrow.columns.numeric == ("c0", "c1", "c2")
    assert not [note for note in narrow.notes if "wide" in note]
