from opsapp.features.backups import codes
from opsapp.operations.failures import KNOWN_CODES, make_failure


def test_backup_failure_codes_are_known_so_they_are_stored_as_themselves():
    assert codes.CODES <= KNOWN_CODES
    for code in codes.CODES:
        assert make_failure(code, "x")["code"] == code
