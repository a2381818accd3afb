"""The python3-saml settings builder, its per-process cache, and the SP keys."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from sso import keys
from sso.keys import (
    keys_cache_clear,
    private_key_decrypt,
    private_key_encrypt,
    signing_key_pair,
    sp_keys_active,
)
from sso.models import IdentityProvider, SPKey
from sso.saml_settings import saml_settings, settings_cache_clear, settings_dict

pytestmark = pytest.mark.django_db

CERT = "MIIBfake"


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.SITE_URL = "https://intranet.example.com"
    keys_cache_clear()
    settings_cache_clear()
    yield
    keys_cache_clear()
    settings_cache_clear()


@pytest.fixture
def idp(peer_cert):
    return IdentityProvider.objects.create(
        slug="onelogin",
        entity_id="https://app.onelogin.com/saml/metadata/1",
        sso_url="https://acme.onelogin.com/trust/saml2/http-redirect/sso/1",
        slo_url="https://acme.onelogin.com/trust/saml2/http-redirect/slo/1",
        signing_certificates=[peer_cert],
    )


@pytest.fixture(scope="module")
def peer_cert():
    cert_pem, _key = keys.key_pair_generate("idp.example.com")
    return "".join(cert_pem.splitlines()[1:-1])


def test_settings_dict_is_strict_and_refuses_sha1(idp):
    key, _ = signing_key_pair()
    urls = saml_settings(idp).urls

    data = settings_dict(idp, urls, key)

    assert data["strict"] is True
    assert data["security"]["rejectDeprecatedAlgorithm"] is True
    assert data["security"]["wantAssertionsSigned"] is True
    assert data["security"]["signatureAlgorithm"] == C.RSA_SHA256
    assert data["security"]["digestAlgorithm"] == C.SHA256
    assert data["security"]["authnRequestsSigned"] is True
    assert data["security"]["logoutRequestSigned"] is True
    assert data["security"]["logoutResponseSigned"] is True
    assert data["security"]["allowRepeatAttributeName"] is True
    assert data["idp"]["x509certMulti"] == {"signing": idp.signing_certificates}
    assert data["sp"]["entityId"] == "https://intranet.example.com/sso/onelogin/metadata/"
    assert (
        data["sp"]["assertionConsumerService"]["url"]
        == "https://intranet.example.com/sso/onelogin/acs/"
    )
    assert (
        data["sp"]["singleLogoutService"]["url"] == "https://intranet.example.com/sso/onelogin/sls/"
    )


def test_logout_settings_demand_signed_messages(idp):
    built = saml_settings(idp)

    assert built.login.get_security_data()["wantMessagesSigned"] is False
    assert built.logout.get_security_data()["wantMessagesSigned"] is True


def test_built_settings_are_reused_until_the_idp_changes(idp, settings):
    first = saml_settings(idp)
    assert saml_settings(idp) is first

    IdentityProvider.objects.filter(pk=idp.pk).update(want_assertions_signed=False)
    idp.refresh_from_db()
    changed = saml_settings(idp)
    assert changed is not first
    assert changed.login.get_security_data()["wantAssertionsSigned"] is False

    settings.SITE_URL = "https://other.example.com"
    assert saml_settings(idp).urls.acs == "https://other.example.com/sso/onelogin/acs/"


def test_private_key_is_encrypted_at_rest():
    token = private_key_encrypt("-----BEGIN PRIVATE KEY-----x")

    assert "PRIVATE KEY" not in token
    assert private_key_decrypt(token) == "-----BEGIN PRIVATE KEY-----x"


def test_first_use_creates_one_key_and_reuses_it():
    first = sp_keys_active()
    second = sp_keys_active()

    assert [k.pk for k in first] == [k.pk for k in second]
    assert SPKey.objects.count() == 1
    assert "PRIVATE KEY" not in first[0].private_key_encrypted


def test_losing_the_creation_race_reads_the_winners_key(monkeypatch):
    winner = keys.sp_key_create(name="sp-key-1")
    calls = []

    def racing_active_keys():
        calls.append(1)
        return [] if len(calls) == 1 else [winner]

    def lose(*, name):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(keys, "_active_keys", racing_active_keys)
    monkeypatch.setattr(keys, "sp_key_create", lose)

    assert keys.sp_keys_active() == [winner]


def test_rollover_publishes_every_active_certificate(idp):
    sp_keys_active()
    keys.sp_key_create(name="sp-key-2")

    built = saml_settings(idp)

    assert len(built.sp_certificates) == 2
    assert (
        built.login.get_sp_data()["x509cert"].strip()
        == SPKey.objects.get(name="sp-key-2").certificate_pem.strip()
    )


def test_retiring_the_last_key_makes_a_new_one():
    first = sp_keys_active()[0]
    SPKey.objects.filter(pk=first.pk).update(is_active=False)

    replacement = sp_keys_active()

    assert [k.name for k in replacement] == ["sp-key-2"]


def test_a_key_made_under_another_secret_key_is_a_clear_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    token = private_key_encrypt("pem")
    settings.SECRET_KEY = "rotated"

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY changed"):
        private_key_decrypt(token)


def test_an_idp_without_certificates_is_refused_not_a_500(client):
    IdentityProvider.objects.create(slug="bare", entity_id="e", sso_url="https://i.example.com/")

    response = client.get("/sso/bare/login/")

    assert response.status_code == 400
    from sso.models import LoginFlow

    message = LoginFlow.objects.get(outcome="refused").message
    assert message.startswith("identity provider misconfigured: Invalid dict settings")


def test_admin_validation_requires_a_certificate_and_a_valid_map():
    from django.core.exceptions import ValidationError

    idp = IdentityProvider(
        slug="x", entity_id="e", sso_url="https://i.example.com/", attribute_map={"pw": "x"}
    )
    with pytest.raises(ValidationError) as caught:
        idp.full_clean()

    assert caught.value.message_dict == {
        "signing_certificates": ["A list of one or more certificates (PEM or base64)."],
    }
    idp.signing_certificates = ["MIIB"]
    with pytest.raises(ValidationError) as caught:
        idp.full_clean()
    assert caught.value.message_dict == {
        "attribute_map": ["attribute map: 'pw' is not a product field"]
    }


def test_secret_key_rotation_keeps_the_sp_keys_through_fallbacks_and_reencrypt(settings):
    from django.core.management import call_command

    original = keys.sp_key_create(name="sp-key-1")
    pem = private_key_decrypt(original.private_key_encrypted)
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "the-new-secret-key"
    settings.SECRET_KEY_FALLBACKS = [old_secret]

    assert private_key_decrypt(original.private_key_encrypted) == pem
    call_command("sp_keys", "reencrypt")
    settings.SECRET_KEY_FALLBACKS = []

    stored = SPKey.objects.get(pk=original.pk).private_key_encrypted
    assert stored != original.private_key_encrypted
    assert private_key_decrypt(stored) == pem


def test_reencrypt_under_an_unknown_secret_key_fails_and_changes_nothing(settings):
    from django.core.management import CommandError, call_command

    original = keys.sp_key_create(name="sp-key-1")
    settings.SECRET_KEY = "unrelated"

    with pytest.raises(CommandError, match="neither SECRET_KEY"):
        call_command("sp_keys", "reencrypt")
    assert SPKey.objects.get(pk=original.pk).private_key_encrypted == original.private_key_encrypted


def test_sp_keys_create_adds_a_second_active_key_for_rollover(capsys):
    from django.core.management import call_command

    sp_keys_active()
    call_command("sp_keys", "create")
    call_command("sp_keys", "list")

    assert sorted(SPKey.objects.filter(is_active=True).values_list("name", flat=True)) == [
        "sp-key-1",
        "sp-key-2",
    ]
    assert "sp-key-2\tactive" in capsys.readouterr().out
