"""Refusal codes, their HTTP statuses, and python3-saml's errors mapped onto them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as E

from sso.refusals import RefusalReason, SamlRefused, reason_for_validation_error


def test_every_reason_has_a_user_message_and_an_admin_hint():
    assert all(reason.user_message and reason.admin_hint for reason in RefusalReason)


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


def test_a_refusal_is_an_application_error_whose_reason_decides_the_status():
    from axero_idp.errors import ApplicationError

    refused = SamlRefused(RefusalReason.ACCOUNT_NOT_LINKED, "the full story")

    assert isinstance(refused, ApplicationError)
    assert (refused.http_status, refused.code, refused.detail) == (
        409,
        "saml_refused",
        "the full story",
    )
    assert refused.reason is RefusalReason.ACCOUNT_NOT_LINKED
    assert refused.admin_hint == RefusalReason.ACCOUNT_NOT_LINKED.admin_hint != ""
    assert str(refused) == "account_not_linked: the full story"


def test_the_stored_reason_codes_never_change():
    # Stored in the audit trail and the login flows, documented in the README: a
    # rename would orphan every stored row.
    assert {reason.value for reason in RefusalReason} == {
        "malformed", "signature", "unsigned_assertion", "deprecated_algorithm", "audience",
        "destination", "recipient", "expired", "not_yet_valid", "replay", "logout_replay",
        "in_response_to_missing", "in_response_to_unknown", "idp_initiated_not_allowed",
        "issuer", "status", "no_nameid", "user_inactive", "jit_disabled",
        "email_link_refused", "account_not_linked", "unknown_idp", "metadata_missing",
        "validation", "no_expiry", "subject_confirmation", "decryption",
        "unencrypted_assertion", "too_many_pending", "rate_limited",
    }  # fmt: skip


def _readme_troubleshooting_rows() -> dict[str, int]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Troubleshooting refused logins", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", section, re.MULTILINE)
    assert rows, "the README lost its troubleshooting table"
    codes = [code for code, _status in rows]
    assert len(codes) == len(set(codes)), "a reason documented twice"
    return {code: int(status) for code, status in rows}


def test_the_readme_troubleshooting_table_documents_every_reason_with_its_status():
    documented = _readme_troubleshooting_rows()

    assert set(documented) == {reason.value for reason in RefusalReason}, (
        "undocumented:",
        {reason.value for reason in RefusalReason} - set(documented),
        "stale rows:",
        set(documented) - {reason.value for reason in RefusalReason},
    )
    assert {code: RefusalReason.of(code).http_status for code in documented} == documented
