import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.codec import (
    ALPHABET,
    KeyFormatError,
    check_character,
    format_key,
    generate_key,
    normalize_key,
    split_keys,
    validate_key,
)

VECTORS = json.loads((Path(__file__).parent / "key_vectors.json").read_text())
keys_strategy = st.lists(st.sampled_from(ALPHABET), min_size=24, max_size=24).map(
    lambda chars: "".join(chars) + check_character("".join(chars))
)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=repr)
def test_it_accepts_each_valid_vector(vector):
    assert validate_key(vector["input"]) == vector["canonical"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=repr)
def test_it_rejects_each_invalid_vector_with_its_code(vector):
    with pytest.raises(KeyFormatError) as caught:
        validate_key(vector["input"])
    error = caught.value
    assert error.code == vector["code"]
    if vector["code"] == "character":
        assert (error.position, error.character) == (vector["position"], vector["character"])
    if vector["code"] == "length":
        assert error.length == vector["length"]


@pytest.mark.parametrize("vector", VECTORS["split"], ids=repr)
def test_it_splits_each_pasted_list_vector(vector):
    assert split_keys(vector["input"]) == vector["keys"]


def test_the_check_character_matches_a_hand_computation():
    # Payload = the alphabet in order, code points 0..23. From the right, factors 2,1,2,1…:
    # the products' digit sums (p // 24 + p % 24) add up to 282; 282 % 24 = 18; (24 - 18) % 24 = 6,
    # and ALPHABET[6] is "J".
    assert check_character(ALPHABET) == "J"


def test_the_vectors_cover_every_error_code():
    assert {v["code"] for v in VECTORS["invalid"]} == {"empty", "character", "length", "checksum"}


def test_it_says_what_to_fix_in_words_a_person_understands():
    with pytest.raises(KeyFormatError) as caught:
        validate_key("BCDFGHO" + "B" * 18)
    assert str(caught.value) == "Character 'O' (position 7) is never used in product keys."
    with pytest.raises(KeyFormatError) as caught:
        validate_key("B" * 24)
    assert str(caught.value) == "This key has 24 characters; a product key has 25."
    with pytest.raises(KeyFormatError) as caught:
        validate_key(ALPHABET + "K")
    assert (
        str(caught.value) == "This key contains a typing mistake: please check it against the card."
    )


def test_it_checks_characters_before_length():
    with pytest.raises(KeyFormatError) as caught:
        validate_key("BO")
    assert caught.value.code == "character"
    assert caught.value.position == 2


def test_it_formats_in_five_groups_of_five():
    key = ALPHABET + "J"
    assert format_key(key) == "BCDFG-HJKMP-QRTVW-XY234-6789J"


def test_it_generates_valid_distinct_keys():
    keys = {generate_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(validate_key(key) == key for key in keys)


@given(st.text())
def test_normalizing_is_idempotent(text):
    assert normalize_key(normalize_key(text)) == normalize_key(text)


@given(keys_strategy)
def test_format_then_validate_round_trips(key):
    assert validate_key(format_key(key)) == key
    assert validate_key(format_key(key).lower()) == key


@given(st.text())
def test_any_text_validates_or_raises_key_format_error(text):
    try:
        canonical = validate_key(text)
    except KeyFormatError as error:
        assert error.code in {"empty", "character", "length", "checksum"}
        assert str(error)
    else:
        assert len(canonical) == 25
        assert set(canonical) <= set(ALPHABET)


@given(keys_strategy, st.integers(min_value=0, max_value=24), st.sampled_from(ALPHABET))
def test_every_single_substitution_is_caught(key, position, replacement):
    if key[position] == replacement:
        return
    typo = key[:position] + replacement + key[position + 1 :]
    with pytest.raises(KeyFormatError) as caught:
        validate_key(typo)
    assert caught.value.code == "checksum"
