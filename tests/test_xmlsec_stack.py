"""Fails the build when lxml and xmlsec disagree on libxml2 (SAML_SECURITY.md: a
mismatch must break CI, not a login)."""

import datetime as dt

import lxml.etree as etree
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TEMPLATE = b"""<Envelope xmlns="urn:envelope" ID="doc1"><Data>hello</Data>
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<Reference URI=""><Transforms>
<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
</Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<DigestValue/></Reference></SignedInfo><SignatureValue/></Signature></Envelope>"""


def _key_and_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xmlsec smoke")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def test_lxml_and_xmlsec_share_one_libxml2():
    assert xmlsec.get_libxml_version() == etree.LIBXML_VERSION


def test_xmlsec_signs_and_verifies_and_detects_tampering():
    key_pem, cert_pem = _key_and_cert()
    root = etree.fromstring(TEMPLATE)
    signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    signer = xmlsec.SignatureContext()
    signer.key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    signer.sign(signature)
    assert signature.findtext("{http://www.w3.org/2000/09/xmldsig#}SignatureValue").strip()

    signed = etree.fromstring(etree.tostring(root))
    verifier = xmlsec.SignatureContext()
    verifier.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    verifier.verify(xmlsec.tree.find_node(signed, xmlsec.constants.NodeSignature))

    signed.find("{urn:envelope}Data").text = "tampered"
    tampered = xmlsec.SignatureContext()
    tampered.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    try:
        tampered.verify(xmlsec.tree.find_node(signed, xmlsec.constants.NodeSignature))
    except xmlsec.Error:
        pass
    else:
        raise AssertionError("a tampered document verified")
