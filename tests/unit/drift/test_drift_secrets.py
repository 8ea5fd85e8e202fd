"""drift.secrets: which paths are secret and how secrets and blobs are shown."""

from __future__ import annotations

import pytest

from opsapp.features.drift.secrets import BLOB_MASK, SECRET_MASK, is_secret_path, mask
from tests.unit.drift import payloads as p

PEM = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----"


@pytest.mark.parametrize(
    "path",
    [
        "password",
        "wiFiPassword",
        "localAdminPassword",
        "passphrase",
        "clientSecret",
        "preSharedKey",
        "sharedKey",
        "wpaPsk",
        "privateKey",
        "pfxBlob",
        "trustedRootCertificate",
        "rootCertificate",
        "certContent",
        "payload",
        "passwordValue",
        "productKey",
        "vpn.servers[address=vpn.contoso.com].sharedSecret",
        f"settings[id={p.WIFI}].groups[0].children[id={p.WIFI_PASSWORD}].secretValue",
        f"omaSettings[omaUri={p.PROXY_URI}].secretValue",
        "settings[id=x].secretValues",
    ],
)
def test_secret_paths(path):
    assert is_secret_path(path) is True


@pytest.mark.parametrize(
    "path",
    [
        "passwordMinimumLength",
        "passwordRequired",
        "passwordExpirationDays",
        "passwordBlockSimple",
        "passwordMinutesOfInactivityBeforeLock",
        "passwordRequiredType",
        "payloadFileName",
        "certificateValidityPeriodValue",
        "displayName",
        f"omaSettings[omaUri={p.PROXY_URI}].value",  # the qualifier names a password, not the key
        f"omaSettings[omaUri={p.PROXY_URI}].secretReferenceValueId",
        "settings[id=device_vendor_msft_laps_policies_passwordagedays].value",
    ],
)
def test_not_secret_paths(path):
    assert is_secret_path(path) is False


def test_secrets_are_masked_without_their_length():
    assert mask("wiFiPassword", "hunter2") == SECRET_MASK == "•••••• (hidden)"
    assert mask("wiFiPassword", "a much longer pre-shared key!") == SECRET_MASK
    assert mask("settings[id=x].secretValue", 1234) == SECRET_MASK
    assert mask("settings[id=x].secretValues", ["a", "b"]) == SECRET_MASK


def test_certificate_names_are_masked_as_blobs():
    assert mask("trustedRootCertificate", "MIIC") == BLOB_MASK
    assert mask("payload", "PD94bWw=") == BLOB_MASK
    assert BLOB_MASK == "certificate / binary data (hidden)"


def test_values_that_look_like_blobs_are_masked_wherever_they_are():
    assert mask(f"omaSettings[omaUri={p.WLAN_URI}].value", p.WLAN_XML_B64) == BLOB_MASK
    assert mask("notes", PEM) == BLOB_MASK
    assert mask("values", ["plain", p.WLAN_XML_B64]) == ["plain", BLOB_MASK]


def test_ordinary_values_are_unchanged():
    assert mask("passwordMinimumLength", 8) == 8
    assert mask("requirePassword", True) is True  # a flag cannot leak a secret
    assert mask("displayName", "WIN - Compliance") == "WIN - Compliance"
    assert mask("homePage", "https://intranet.contoso.com/start?x=1") == (
        "https://intranet.contoso.com/start?x=1"
    )
    assert mask("wiFiPassword", None) is None
    short_b64 = "Wm9vcGVyU2VjcmV0UHJveHkhMjAyNA"  # < 64 characters
    assert mask("value", short_b64) == short_b64
    thumbprint = "9F" * 32  # a 64-character hex hash is not a blob
    assert mask("thumbprint", thumbprint) == thumbprint
    setting_value = f"{p.BL_STARTUP}_configuretpmstartupkeyusagedropdown_name_2"  # 90+ chars, "_"
    assert mask("value", setting_value) == setting_value


def test_a_value_under_a_secret_parent_is_masked():
    from opsapp.features.drift.secrets import SECRET_MASK, mask

    assert mask("credentials.value", "s3cr3t-value") == SECRET_MASK
    assert mask("wifi.preSharedKey.text", "hunter2hunter2") == SECRET_MASK
    assert mask("proxy.server", "proxy.contoso.com") == "proxy.contoso.com"
    assert mask("passwordPolicy.minimumLength", 8) == 8  # a parent that only starts with one
