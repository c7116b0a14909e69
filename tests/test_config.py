"""params.yaml validation: bad input stops with one line per problem naming the key, the value and what is allowed."""
from __future__ import annotations

import json

import pydantic
import pytest

from fedforge import config
from fedforge.fl.appconfig import config_to_json
from tests.conftest import REPO, tiny_params_dict, write_params

FIX = "Fix it in params.yaml (or the -S override)."
PARTITION_KEYS = "num_clients, preset, alphas, min_client_size, val_fraction"


def problem(**overrides) -> str:
    """The ConfigError text for tiny params with dotted-key overrides."""
    with pytest.raises(config.ConfigError) as err:
        config.parse(tiny_params_dict(**overrides))
    return str(err.value)


def test_repo_params_yaml_is_valid():
    cfg = config.load(REPO / "params.yaml")
    assert cfg.data.source == "synthetic"  # the default runs anywhere, offline
    assert cfg.data.datasets == ("bloodmnist", "dermamnist", "pathmnist")
    assert list(cfg.phases) == ["A", "B", "C"]  # params.yaml order: the order the phases run in
    assert cfg.phase("B").strategy == "fedavgm"


def test_load_gives_frozen_typed_hashable_sections(tiny_params_file):
    cfg = config.load(tiny_params_file)
    assert cfg.partition.num_clients == 2
    assert cfg.model.hidden_sizes == (32, 64, 128)  # YAML lists become tuples
    assert hash(cfg.model) == hash(config.parse(tiny_params_dict()).model)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        cfg.partition.num_clients = 3


def test_an_int_given_for_a_float_is_stored_as_float():
    """The checkpoint fingerprint hashes the JSON of these values: 600 and 600.0 must not differ by spelling."""
    cfg = config.parse(tiny_params_dict(**{"federation.round_timeout": 600}))
    assert repr(cfg.federation.round_timeout) == "600.0"


@pytest.mark.parametrize("key, value, line", [
    # a choice
    ("partition.preset", "sever", "partition.preset: got 'sever'; allowed: 'iid', 'moderate' or 'severe'."),
    ("data.image_size", 32, "data.image_size: got 32; allowed: 28, 64, 128 or 224."),
    # out of range
    ("partition.num_clients", 0, "partition.num_clients: got 0; allowed: greater than or equal to 1."),
    ("partition.val_fraction", 0.9, "partition.val_fraction: got 0.9; allowed: less than or equal to 0.5."),
    # wrong type (no coercion: "3" is not 3, and a bool is not an int)
    ("partition.num_clients", "3", "partition.num_clients: got '3'; allowed: a valid integer."),
    ("seed", True, "seed: got True; allowed: a valid integer."),
    ("data.synthetic.scale", "big", "data.synthetic.scale: got 'big'; allowed: a valid number."),
    ("model.pretrained", 5, "model.pretrained: got 5; allowed: a valid string."),
    ("partition", 3, "partition: got 3; allowed: a mapping."),
    ("data.datasets", "bloodmnist", "data.datasets: got 'bloodmnist'; allowed: a list."),
    ("data.datasets", [], "data.datasets: got []; allowed: at least one entry."),
    # a list item (only the item's line, not also one for the list)
    ("data.datasets", ["bloodmnist", "chestmnist"],
     "data.datasets[1]: got 'chestmnist'; allowed: 'bloodmnist', 'dermamnist' or 'pathmnist'."),
    ("model.hidden_sizes", ["wide"], "model.hidden_sizes[0]: got 'wide'; allowed: a valid integer."),
    ("phases.A.loss", "hinge", "phases.A.loss: got 'hinge'; allowed: 'ce', 'weighted_ce', 'balanced_softmax' or 'focal'."),
    ("phases.B.augment", "crop", "phases.B.augment: got 'crop'; allowed: 'none' or 'dihedral'."),
    ("centralized.select_on", "acc", "centralized.select_on: got 'acc'; allowed: 'loss' or 'balanced_acc'."),
    # field validators
    ("data.datasets", ["bloodmnist", "bloodmnist"],
     "data.datasets: got ['bloodmnist', 'bloodmnist']; allowed: no repeated entries."),
    ("monitor.url", "ftp://host", ("monitor.url: got 'ftp://host'; allowed: \"\" (off), auto (find a running "
     "`fedforge monitor`) or an http(s) URL such as http://127.0.0.1:8090.")),
])
def test_bad_value_is_one_line_naming_key_value_and_allowed(key, value, line):
    assert problem(**{key: value}) == f"{line} {FIX}"


def test_unknown_key_is_rejected_with_the_allowed_keys_listed():
    params = tiny_params_dict()
    params["partition"]["num_client"] = 3  # typo
    with pytest.raises(config.ConfigError) as err:
        config.parse(params)
    assert str(err.value) == f"partition.num_client: got 3; unknown key; allowed keys here: {PARTITION_KEYS}. {FIX}"


def test_unknown_key_inside_a_phase_names_the_phase():
    assert problem(**{"phases.A.rounds_": 3}).startswith("phases.A.rounds_: got 3; unknown key; allowed keys here: "
                                                         "dataset, strategy, rounds, ")


def test_missing_key_is_named():
    params = tiny_params_dict()
    del params["partition"]["min_client_size"]
    with pytest.raises(config.ConfigError) as err:
        config.parse(params)
    assert str(err.value) == ("partition.min_client_size: missing; add it to params.yaml "
                              "(see the commented defaults in the repo's params.yaml)")


def test_every_problem_gets_its_own_line():
    params = tiny_params_dict(seed="x", device="tpu")
    del params["threads"]
    with pytest.raises(config.ConfigError) as err:
        config.parse(params)
    assert str(err.value).splitlines() == [
        f"seed: got 'x'; allowed: a valid integer. {FIX}",
        f"device: got 'tpu'; allowed: 'auto', 'cpu', 'cuda' or 'mps'. {FIX}",
        "threads: missing; add it to params.yaml (see the commented defaults in the repo's params.yaml)"]


def test_a_file_that_is_not_a_mapping_is_named():
    with pytest.raises(config.ConfigError) as err:
        config.parse(None)
    assert str(err.value) == f"params.yaml: got None; allowed: a mapping. {FIX}"


@pytest.mark.parametrize("overrides, line", [
    ({"model.depths": [1, 1]}, "model.depths: got [1, 1]; allowed: one entry per model.hidden_sizes (3)."),
    ({"partition.alphas.severe": 0}, "partition.alphas.severe: got 0.0; allowed: a positive Dirichlet alpha."),
    ({"partition.alphas": {"moderate": 1.0}}, "partition.alphas.severe: got None; allowed: a positive Dirichlet alpha."),
    ({"data.datasets": ["bloodmnist", "dermamnist"]},
     "phases.C.dataset: got 'pathmnist'; allowed: one of data.datasets ['bloodmnist', 'dermamnist']."),
    ({"phases.B.min_clients": 3}, "phases.B.min_clients: got 3; allowed: at most partition.num_clients (2)."),
])
def test_cross_checks_name_the_key_to_fix(overrides, line):
    assert problem(**overrides) == f"{line} {FIX}"


def test_dataset_and_phase_lookups():
    cfg = config.parse(tiny_params_dict(**{"data.datasets": ["bloodmnist", "dermamnist", "pathmnist"]}))
    assert cfg.dataset("dermamnist") == "dermamnist"
    with pytest.raises(config.ConfigError) as err:
        cfg.dataset("chestmnist")
    assert str(err.value) == ("--dataset chestmnist: not in data.datasets ['bloodmnist', 'dermamnist', 'pathmnist']; "
                              "add it there in params.yaml (or the -S override)")
    with pytest.raises(config.ConfigError) as err:
        cfg.phase("Z")
    assert str(err.value) == "phases.Z: no such phase; params.yaml defines ['A', 'B', 'C']"


def test_round_trip_through_json_gives_the_same_config():
    for cfg in (config.load(REPO / "params.yaml"), config.parse(tiny_params_dict(**{"model.pretrained": "ckpt"}))):
        assert config.parse(json.loads(config_to_json(cfg))) == cfg


def test_model_section_dumps_to_the_fingerprinted_shape():
    """checkpoint.fingerprint hashes this JSON; it is what dataclasses.asdict gave before pydantic."""
    model = config.parse(tiny_params_dict()).model
    assert json.dumps(model.model_dump(), sort_keys=True) == (
        '{"arch": "resnet", "depths": [1, 1, 1], "embedding_size": 32, "hidden_sizes": [32, 64, 128], '
        '"norm": "batch", "pretrained": null}')


def test_load_names_the_file_on_every_line(tmp_path):
    path = write_params(tmp_path, tiny_params_dict(**{"partition.preset": "sever", "seed": -1}))
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert str(err.value).splitlines() == [
        f"{path}: seed: got -1; allowed: greater than or equal to 0. {FIX}",
        f"{path}: partition.preset: got 'sever'; allowed: 'iid', 'moderate' or 'severe'. {FIX}"]


def test_load_reports_a_missing_or_broken_file(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        config.load(tmp_path / "nope.yaml")
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}: not found; run from the repository root or pass --params PATH"
    (tmp_path / "bad.yaml").write_text("seed: [1\n")
    with pytest.raises(config.ConfigError, match=r"bad\.yaml: not valid YAML"):
        config.load(tmp_path / "bad.yaml")


def test_config_error_is_a_user_error_and_a_value_error():
    from fedforge.errors import UserError

    assert issubclass(config.ConfigError, UserError) and issubclass(config.ConfigError, ValueError)
