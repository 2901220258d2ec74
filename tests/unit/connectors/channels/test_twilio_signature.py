"""Twilio's X-Twilio-Signature, checked against the example of Twilio's webhook security page."""

from urllib.parse import urlencode

import pytest

from connectors.channels.calls import TwilioCallConnector, twilio_signature
from panorama.errors import ContractError

# Twilio's documented example: auth token, request URL, POST parameters and signature.
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
FORM = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309",
        "To": "+18005551212"}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
BODY = urlencode(FORM).encode()


def signed(**config) -> TwilioCallConnector:
    return TwilioCallConnector({"auth_token": TOKEN} | config)


def test_documented_example():
    assert twilio_signature(TOKEN, URL, list(FORM.items())) == SIGNATURE
    signed().verify({}, {"x-twilio-signature": SIGNATURE}, BODY, url=URL)


def test_default_port_either_way():
    signed().verify({}, {"x-twilio-signature": SIGNATURE}, BODY, url="https://mycompany.com:443/myapp.php?foo=1&bar=2")


def test_public_url_replaces_scheme_and_host_behind_a_proxy():
    internal = "http://127.0.0.1:8000/myapp.php?foo=1&bar=2"
    with pytest.raises(ContractError):
        signed().verify({}, {"x-twilio-signature": SIGNATURE}, BODY, url=internal)
    signed(public_url="https://mycompany.com").verify({}, {"x-twilio-signature": SIGNATURE}, BODY, url=internal)


@pytest.mark.parametrize("headers, body, url", [
    ({}, BODY, URL),  # no signature
    ({"x-twilio-signature": SIGNATURE}, BODY.replace(b"1234", b"1235"), URL),  # altered parameter
    ({"x-twilio-signature": SIGNATURE}, BODY + b"&Extra=1", URL),  # added parameter
    ({"x-twilio-signature": SIGNATURE}, BODY, URL.replace("foo=1", "foo=2")),  # altered query
    ({"x-twilio-signature": SIGNATURE}, BODY, "https://mycompany.com:8443/myapp.php?foo=1&bar=2"),  # other port
])
def test_mismatch_is_a_bad_signature(headers, body, url):
    with pytest.raises(ContractError) as raised:
        signed().verify({}, headers, body, url=url)
    assert (raised.value.field, raised.value.code) == ("X-Twilio-Signature", "bad_signature")


def test_without_auth_token_nothing_is_checked():
    TwilioCallConnector().verify({}, {}, BODY, url=URL)
