import numpy as np
import pytest

from counterpoint.errors import CounterpointError
from counterpoint.splits import assert_no_leak, assign_splits, grouped_folds


def test_given_split_column_is_used_as_is():
    given = ["train", "test", "validation", "train"]
    assert list(assign_splits(["a", "b", "a", "b"], given=given)) == given


def test_generated_splits_are_stratified_grouped_and_seeded():
    labels = np.repeat(["x", "y", "z"], 40)
    groups = np.arange(120) // 4  # four tracks per work
    splits = assign_splits(labels, groups, seed=3)
    assert_no_leak(splits, groups)
    for name, share in (("train", 0.7), ("validation", 0.15), ("test", 0.15)):
        assert abs(np.mean(splits == name) - share) < 0.08
        assert set(labels[splits == name]) == {"x", "y", "z"}
    assert list(splits) == list(assign_splits(labels, groups, seed=3))
    assert list(splits) != list(assign_splits(labels, groups, seed=4))


def test_a_class_with_few_groups_still_splits_without_leaking():
    labels = np.array(["a"] * 6 + ["b"] * 6)
    groups = np.array(["g1"] * 3 + ["g2"] * 3 + [f"h{i}" for i in range(6)])  # class a: two works
    splits = assign_splits(labels, groups, seed=0)
    assert_no_leak(splits, groups)
    folds = grouped_folds(labels, groups, n_splits=5)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


@pytest.mark.parametrize("per_class", [(2, 2, 3), (1, 4), (2, 3, 1, 4)])
def test_tiny_classes_never_crash_the_split(per_class):
    labels = np.concatenate([[f"c{i}"] * n for i, n in enumerate(per_class)])
    groups = [f"work{i}" for i in range(len(labels))]
    for seed in range(10):
        splits = assign_splits(labels, groups, seed=seed)
        assert set(splits) <= {"train", "validation", "test"} and "train" in set(splits)


def test_leak_is_detected_and_one_group_is_refused():
    with pytest.raises(CounterpointError, match="more than one side"):
        assert_no_leak(["train", "test"], ["w1", "w1"])
    with pytest.raises(CounterpointError, match="at least two groups"):
        grouped_folds(["a", "b"], ["g", "g"])
