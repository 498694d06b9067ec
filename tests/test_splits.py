import numpy as np
import pytest

from counterpoint.errors import CounterpointError
from counterpoint.splits import assert_no_leak, assign_splits, describe_splits, grouped_folds


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


@pytest.mark.parametrize("n_tracks", [11, 12, 13, 14])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_small_datasets_get_the_stated_proportions_and_every_class_in_training(n_tracks, n_classes):
    labels = np.array([f"c{i % n_classes}" for i in range(n_tracks)])
    for seed in range(5):
        splits = assign_splits(labels, seed=seed)
        assert set(labels[splits == "train"]) == set(labels), seed
        for name, fraction in (("test", 0.15), ("validation", 0.15)):
            # The nearest whole number of tracks to the fraction asked for.
            assert (splits == name).sum() == int(np.floor(fraction * n_tracks + 0.5)), (name, seed)


def test_small_grouped_datasets_keep_every_class_in_training_without_leaking():
    labels = np.array(["a"] * 5 + ["b"] * 4 + ["c"] * 4)
    groups = np.array(["a1", "a1", "a2", "a3", "a3", "b1", "b2", "b2", "b3", "c1", "c1", "c2", "c2"])
    for seed in range(10):
        splits = assign_splits(labels, groups, seed=seed)
        assert_no_leak(splits, groups)
        assert set(labels[splits == "train"]) == {"a", "b", "c"}
        assert 1 <= (splits == "test").sum() <= 3


def test_split_summary_states_the_counts_that_were_given():
    labels = np.array([f"c{i % 4}" for i in range(12)])
    splits = assign_splits(labels, seed=0)
    text = describe_splits(splits)
    assert text == "8 train / 2 validation / 2 test tracks (67/17/17 %)"


def test_a_split_is_not_left_empty_when_one_group_is_as_near_its_share_as_none():
    labels = np.array(list("abcabc"))
    groups = np.repeat(["g0", "g1", "g2"], 2)        # 15 % of 6 tracks is 1: a group of 2 is as near as none
    splits = assign_splits(labels, groups, seed=0)
    assert_no_leak(splits, groups)
    assert (splits == "test").sum() == 2 and (splits == "train").sum() >= 2
