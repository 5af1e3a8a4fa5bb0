"""architecture_id / training_id: equal for equal trainings, different when anything trained differs."""
from nas.search.identity import ID_LENGTH, architecture_id, training_id

SPEC = {"macro": "mnist1d", "widths": [8, 16], "scheme": {"family": "lm_resnet", "k": 0.25}}
TRAIN = {"epochs": 30, "lr": 0.05, "seed": 0}


def test_ids_ignore_key_order_and_have_fixed_length():
    reordered = {"widths": [8, 16], "scheme": {"k": 0.25, "family": "lm_resnet"}, "macro": "mnist1d"}
    assert architecture_id(SPEC, TRAIN) == architecture_id(reordered, dict(reversed(TRAIN.items())))
    assert len(architecture_id(SPEC, TRAIN)) == ID_LENGTH == len(training_id(SPEC, TRAIN))


def test_seed_changes_training_id_only():
    other_seed = {**TRAIN, "seed": 1}
    assert architecture_id(SPEC, TRAIN) == architecture_id(SPEC, other_seed)
    assert training_id(SPEC, TRAIN) != training_id(SPEC, other_seed)


def test_any_architecture_or_training_change_changes_both_ids():
    other_spec = {**SPEC, "scheme": {"family": "lm_resnet", "k": 0.2500001}}
    other_train = {**TRAIN, "epochs": 29}
    for spec, train in ((other_spec, TRAIN), (SPEC, other_train)):
        assert architecture_id(spec, train) != architecture_id(SPEC, TRAIN)
        assert training_id(spec, train) != training_id(SPEC, TRAIN)
