"""The typed, frozen recipes: the shipped settings, and changes only by an explicit copy."""

from __future__ import annotations

import dataclasses
import json

import pytest

from training.recipes import RECIPES, Augment, Network


def test_recipes_are_frozen_and_changed_only_by_copy():
    recipe = RECIPES["default"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.epochs = 3
    shorter = recipe.with_overrides({"epochs": 3, "augment": {"zoom": 0.0}, "network": {"widths": [8, 16]}})
    assert (shorter.epochs, shorter.augment, shorter.network) == (
        3,
        Augment(rotation=0.1, zoom=0.0, flip="horizontal_and_vertical"),
        Network(widths=(8, 16), dropout=0.3),
    )
    assert RECIPES["default"].epochs == 24  # the shipped recipe is untouched


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bn_recalibration": 512}, "unknown recipe settings: bn_recalibration"),
        ({"tta": ["hflip"]}, "unknown recipe settings: tta"),
        ({"members": 0}, "members must be at least 1"),
        ({"optimizer": "sgd"}, "unknown optimizer"),
    ],
)
def test_removed_or_bad_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        RECIPES["default"].with_overrides(overrides)


def test_the_card_records_the_recipe_as_json():
    card = json.loads(json.dumps(RECIPES["default"].card()))
    assert card["network"] == {"widths": [32, 48, 96, 160, 224], "dropout": 0.3}
    assert card["augment"] == {"rotation": 0.1, "zoom": 0.1, "flip": "horizontal_and_vertical"}
    assert card["members"] == 1 and card["ema_momentum"] == 0.99
    assert RECIPES["seed"].card()["network"] is None
