"""The WXBizMsgCrypt scheme against the vectors of WeCom's public callback documentation."""

import base64

import pytest

from connectors.channels.msg_crypt import MsgCrypt, decode_aes_key, msg_signature
from panorama.errors import ContractError

# The documented example configuration and callbacks ("加解密方案说明").
TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
ENCRYPTED = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3"
    "TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gs"
    "ijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUa"
    "x5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZ"
    "ZIs2pDBS8R07+qN+E7Q=="
)


def crypt() -> MsgCrypt:
    return MsgCrypt(TOKEN, AES_KEY, CORP_ID)


def test_documented_url_check_vector():
    assert msg_signature(TOKEN, "1409659589", "263014780", ECHOSTR) == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert crypt().decrypt(ECHOSTR) == "1616140317555161061"


def test_documented_push_vector():
    params = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813", "nonce": "1372623149"}
    crypt().verify_request(params, ENCRYPTED)
    message = crypt().decrypt(ENCRYPTED)
    assert "<Content><![CDATA[hello]]></Content>" in message and "<AgentID>218</AgentID>" in message
    with pytest.raises(ContractError) as raised:
        crypt().verify_request(params | {"nonce": "1372623150"}, ENCRYPTED)
    assert (raised.value.field, raised.value.code) == ("msg_signature", "bad_signature")


def test_round_trip_pads_to_32_bytes_and_multibyte_text():
    for message in ["", "a" * 11, "a" * 12, "消息长度是按字节来算的" * 5]:
        encrypted = crypt().encrypt(message, b"r" * 16)
        assert crypt().decrypt(encrypted) == message
        assert len(base64.b64decode(encrypted)) % 32 == 0


def flip(encrypted: str, index: int) -> str:
    data = bytearray(base64.b64decode(encrypted))
    data[index] ^= 0x40
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("tamper, problem", [
    (lambda e: flip(e, -17), "bad padding"),  # CBC: flips the pad byte of the last block
    (lambda e: e[:40], "whole number of AES blocks"),
    (lambda e: "not base64!", "not base64"),
    (lambda e: "", "0 bytes"),
])
def test_tampered_ciphertext_is_named(tamper, problem):
    with pytest.raises(ContractError) as raised:
        crypt().decrypt(tamper(crypt().encrypt("<xml/>", b"r" * 16)))
    assert raised.value.code == "bad_ciphertext" and problem in raised.value.problem


def test_message_for_another_receiver_is_refused():
    other = MsgCrypt(TOKEN, AES_KEY, "ww_other_corp").encrypt("<xml/>")
    with pytest.raises(ContractError, match="another receiver"):
        crypt().decrypt(other)


@pytest.mark.parametrize("key", ["short", AES_KEY[:-1] + "*", "A" * 44])
def test_bad_encoding_aes_key(key):
    with pytest.raises(ValueError):
        decode_aes_key(key)
