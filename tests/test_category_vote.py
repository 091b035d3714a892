"""The categories' support from confirmed examples: what it measures and what it leaves out."""

from __future__ import annotations

import numpy as np
import pytest

from inference.matcher import LEFT_OUT, category_support


def test_support_is_the_mean_of_each_categorys_nearest_examples_as_z_scores():
    categories = np.array(["环境", "环境", "环境", "环境", "安全", "安全", "城建"])
    sims = np.array([[0.9, 0.8, 0.7, 0.1, 0.5, 0.4, 0.6]])
    support = category_support(sims, categories)[0]
    means = np.array([0.8, 0.45, 0.6])  # 环境 top-3, 安全 both, 城建 its only one
    z = (means - means.mean()) / means.std()
    assert support == pytest.approx(dict(zip(["环境", "安全", "城建"], z.tolist())))
    assert support["环境"] > support["城建"] > support["安全"]


def test_left_out_examples_do_not_count_and_an_emptied_category_drops_out():
    categories = np.array(["环境", "环境", "安全", "城建"])
    sims = np.array([[0.95, 0.5, 0.4, 0.3], [LEFT_OUT, 0.5, 0.4, LEFT_OUT]])
    full, left = category_support(sims, categories)
    assert full["环境"] > full["安全"] > full["城建"]
    assert set(left) == {"环境", "安全"}  # 城建's only example was left out
    assert left["环境"] > left["安全"]


def test_one_category_gives_no_support():
    assert category_support(np.array([[0.9, 0.1]]), np.array(["环境", "环境"])) == [{}]
