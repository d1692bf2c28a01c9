"""One identity per e-mail address: the long s, the Kelvin sign, full-width letters and capitals
are the same person everywhere (design, "E-mail")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.identity import NormalizedEmailField, email_normalize, normalization_problems

LONG_S = "\u017f"  # NFKC and casefold make it "s"; PostgreSQL's UPPER() makes it "S"
KELVIN = "\u212a"  # NFKC makes it "K"
DOTLESS_I = "\u0131"  # no ASCII form, whatever is done to it


# The one form of an address.


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("  Tess@Example.COM ", "tess@example.com"),
        ("\uff34\uff45\uff53\uff53@example.com", "tess@example.com"),  # full-width letters
        (f"te{LONG_S}s@example.com", "tess@example.com"),
        (f"{KELVIN}ate@example.com", "kate@example.com"),
        ("anna@STRASSE.example", "anna@strasse.example"),
        ("anna@stra\u00dfe.example", "anna@strasse.example"),  # ß casefolds to ss
        ("megan@B\u00fccher.example", "megan@b\u00fccher.example"),
    ],
)
def test_it_normalizes_an_address(typed, normalized):
    assert email_normalize(typed) == normalized
    assert NormalizedEmailField().clean(typed) == normalized


@given(st.text())
def test_it_normalizes_to_a_form_that_stays_the_same(value):
    assert email_normalize(email_normalize(value)) == email_normalize(value)


@pytest.mark.parametrize(
    "typed", [f"t{DOTLESS_I}ss@example.com", "TESS\u0130@example.com", "ren\u00e9@example.com"]
)
def test_it_refuses_letters_with_no_ascii_form_before_the_at(typed):
    with pytest.raises(Exception, match="Before the @, use only unaccented Latin letters"):
        NormalizedEmailField().clean(typed)


def test_it_measures_the_length_of_the_normalized_address():
    field = NormalizedEmailField(max_length=20)
    assert field.clean("a@stra\u00dfe.example") == "a@strasse.example"  # 17 characters
    with pytest.raises(Exception, match="at most 20 characters"):
        field.clean("annab@stra\u00dfe.example")  # 20 typed, 21 stored


def test_it_names_the_tenant_where_two_users_would_share_an_address():
    rows = [("tenant 7", "Megan@contoso.example"), ("tenant 7", "megan@contoso.example")]
    rows += [("tenant 8", "megan@contoso.example")]
    assert normalization_problems(rows, unique=True) == [
        "tenant 7: “Megan@contoso.example” and “megan@contoso.example” would both become "
        "“megan@contoso.example”"
    ]
    assert normalization_problems(rows, unique=False) == []
