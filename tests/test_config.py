"""params.yaml validation: bad input stops with an error naming the key, the value and what is allowed."""
from __future__ import annotations

import dataclasses

import pytest

from fedforge import config
from tests.conftest import REPO, set_key, tiny_params_dict, write_params


def test_repo_params_yaml_is_valid():
    cfg = config.load(REPO / "params.yaml")
    assert cfg.data.source == "synthetic"  # the default runs anywhere, offline
    assert set(cfg.data.datasets) == {"bloodmnist", "dermamnist", "pathmnist"}


def test_load_gives_frozen_typed_config(tiny_params_file):
    cfg = config.load(tiny_params_file)
    assert cfg.partition.num_clients == 2 and isinstance(cfg.data.synthetic.scale, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.partition.num_clients = 3  # frozen


@pytest.mark.parametrize("key, value, expected", [
    ("partition.preset", "sever", ["partition.preset", "'sever'", "iid, moderate, severe"]),
    ("partition.num_clients", 0, ["partition.num_clients", "0", "range"]),
    ("partition.num_clients", "3", ["partition.num_clients", "'3'", "int"]),
    ("data.synthetic.scale", "big", ["data.synthetic.scale", "'big'", "float"]),
    ("data.source", "zenodo", ["data.source", "synthetic, medmnist"]),
    ("data.image_size", 32, ["data.image_size", "32", "28, 64, 128, 224"]),
    ("data.datasets", ["bloodmnist", "chestmnist"], ["data.datasets[1]", "chestmnist"]),
    ("partition.val_fraction", 0.9, ["partition.val_fraction", "0.9"]),
])
def test_bad_value_names_key_value_and_allowed(key, value, expected):
    with pytest.raises(config.ConfigError) as err:
        config.parse(set_key(tiny_params_dict(), key, value))
    for text in expected:
        assert text in str(err.value)


def test_unknown_key_is_rejected_with_known_keys_listed():
    params = tiny_params_dict()
    params["partition"]["num_client"] = 3  # typo
    with pytest.raises(config.ConfigError, match=r"partition\.num_client: .*unknown key.*num_clients"):
        config.parse(params)


def test_missing_key_is_named():
    params = tiny_params_dict()
    del params["partition"]["min_client_size"]
    with pytest.raises(config.ConfigError, match=r"partition\.min_client_size: missing"):
        config.parse(params)


def test_load_names_the_file(tmp_path):
    path = write_params(tmp_path, set_key(tiny_params_dict(), "partition.preset", "sever"))
    with pytest.raises(config.ConfigError, match=r"params\.yaml: partition\.preset"):
        config.load(path)
    with pytest.raises(config.ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
