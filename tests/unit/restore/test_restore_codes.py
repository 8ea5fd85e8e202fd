from opsapp.features.restore import codes
from opsapp.operations.failures import KNOWN_CODES, make_failure


def test_restore_codes_are_known_failure_codes():
    assert codes.CODES <= KNOWN_CODES
    for code in codes.CODES:
        assert make_failure(code, "x")["code"] == code
