"""`opsapp secrets …` (see register).

`opsapp secrets rotate`: after setting a new OPSAPP_SECRET_KEY and listing the previous key(s)
in OPSAPP_SECRET_KEYS_OLD, re-encrypt every stored tenant client secret with the new key in one
transaction. Prints `{"rotated": N, "unreadable": M}`; a secret no configured key can read is
named by tenant slug on stderr and left unchanged, and the command then exits with
EXIT_INCOMPLETE (8) instead of 0 (the readable ones are rotated all the same). No secret is ever
printed."""

from __future__ import annotations

import argparse
import sys


def cmd_secrets_rotate(args: argparse.Namespace) -> int | None:
    from opsapp.cli import _print_json
    from opsapp.cli_errors import EXIT_INCOMPLETE
    from opsapp.db import session_scope
    from opsapp.security import rotate_stored_secrets

    with session_scope() as session:
        result = rotate_stored_secrets(session)
    if result.unreadable_tenants:
        print(
            "opsapp: warning: no configured key can read the stored client secret of "
            f"{len(result.unreadable_tenants)} tenant(s), left unchanged: "
            + ", ".join(result.unreadable_tenants),
            file=sys.stderr,
        )
    _print_json(result.to_dict())
    return EXIT_INCOMPLETE if result.unreadable_tenants else None


def register(groups) -> None:
    """Add the `secrets` command group to the CLI's sub-parsers."""
    secrets = groups.add_parser("secrets", help="stored secrets (key rotation)").add_subparsers(
        dest="cmd", required=True
    )
    help_text = (
        "re-encrypt every stored secret with OPSAPP_SECRET_KEY (each must be readable with it "
        'or a key in OPSAPP_SECRET_KEYS_OLD); prints {"rotated": N, "unreadable": M} and exits '
        "with 8 when M is not 0"
    )
    p = secrets.add_parser("rotate", help=help_text, description=help_text)
    p.set_defaults(handler=cmd_secrets_rotate)
