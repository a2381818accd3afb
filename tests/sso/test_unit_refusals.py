"""Refusal codes, their HTTP statuses, and python3-saml's errors mapped onto them."""

from __future__ import annotations

import pytest
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as E

from sso import refusals
from sso.refusals import SamlRefused, reason_for_validation_error


def test_every_reason_has_a_user_message():
    assert set(refusals.USER_MESSAGES) == set(refusals.ALL_REASONS)


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("user_inactive", 403),
        ("idp_initiated_not_allowed", 403),
        ("unknown_idp", 404),
        ("replay", 400),
        ("too_many_pending", 429),
        ("no_expiry", 400),
    ],
)
def test_http_status_of_a_refusal(reason, status):
    assert SamlRefused(reason, "x").http_status == status


def test_unknown_reason_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown refusal reason 'nope'"):
        SamlRefused("nope", "x")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (E.INVALID_SIGNATURE, "signature"),
        (E.NO_SIGNATURE_FOUND, "signature"),
        (E.WRONG_NUMBER_OF_ASSERTIONS, "signature"),
        (E.NO_SIGNED_ASSERTION, "unsigned_assertion"),
        (E.DEPRECATED_SIGNATURE_METHOD, "deprecated_algorithm"),
        (E.DEPRECATED_DIGEST_METHOD, "deprecated_algorithm"),
        (E.WRONG_AUDIENCE, "audience"),
        (E.WRONG_DESTINATION, "destination"),
        (E.ASSERTION_EXPIRED, "expired"),
        (E.ASSERTION_TOO_EARLY, "not_yet_valid"),
        (E.WRONG_ISSUER, "issuer"),
        (E.STATUS_CODE_IS_NOT_SUCCESS, "status"),
        (E.NO_NAMEID, "no_nameid"),
        (E.INVALID_XML_FORMAT, "malformed"),
        (E.WRONG_INRESPONSETO, "in_response_to_unknown"),
        (E.MISSING_CONDITIONS, "validation"),
        (E.AUTHN_CONTEXT_MISMATCH, "validation"),
    ],
)
def test_python3_saml_errors_map_to_reasons(code, reason):
    assert reason_for_validation_error(code) == reason
