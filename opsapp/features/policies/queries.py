"""Read models of the Policies pages: the list and one policy with its captured versions.
Database only (policy.sync captures the snapshots); a page view never waits on Graph."""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from opsapp.features.inventory.queries import policy_type_label, policy_type_label_sql
from opsapp.models import Policy, PolicyVersion
from opsapp.models.types import iso
from opsapp.paging import Page, contains_text, ordered_by, paginate

SORT_KEYS = ("display_name", "policy_type", "last_modified", "updated_at")
PAYLOAD_CAP = 20_000
TRUNCATED = "\n… (truncated)"
MAX_VERSIONS_SHOWN = 50
REDACTED = "[redacted]"
# Key names whose values are secrets: opsapp.redaction's vocabulary plus the names Intune gives
# Wi-Fi / VPN keys and certificates. Matched on the key lower-cased without separators.
_SECRET_KEY = re.compile(
    r"secret|password|passwd|passphrase|pwd|token|apikey|credential|assertion|signature"
    r"|presharedkey|sharedkey|privatekey|pfx"
)


def _is_secret_key(key: Any) -> bool:
    return bool(_SECRET_KEY.search(re.sub(r"[^a-z0-9]", "", str(key).lower())))


def mask_secret_values(value: Any, *, secret: bool = False) -> Any:
    """A copy of a JSON structure with the strings under secret-named keys replaced.

    Booleans and numbers stay ("passwordRequired": true, "passwordMinimumLength": 8 are
    settings an admin needs to see, not secrets); so do empty strings ("not set"). Settings
    catalog secret values (…SecretSettingValue) are masked whatever their key is called."""
    if isinstance(value, dict):
        secret_setting = str(value.get("@odata.type", "")).endswith("SecretSettingValue")
        return {
            k: mask_secret_values(
                v, secret=secret or _is_secret_key(k) or (secret_setting and k == "value")
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secret_values(v, secret=secret) for v in value]
    return REDACTED if secret and isinstance(value, str) and value else value


def payload_json(payload: Any) -> str:
    """Pretty, stable (sorted keys), masked JSON, capped so one huge policy cannot bloat a page."""
    text = json.dumps(
        mask_secret_values(payload or {}), indent=2, sort_keys=True, ensure_ascii=False, default=str
    )
    if len(text) > PAYLOAD_CAP:
        text = text[: PAYLOAD_CAP - len(TRUNCATED)] + TRUNCATED
    return text


def _policy_row(result: Any) -> dict:
    policy, version_count, current_number = result
    return {
        "id": policy.id,
        "display_name": policy.display_name,
        "policy_type": policy.policy_type,
        "policy_type_label": policy_type_label(policy.policy_type),
        "last_modified": iso(policy.last_modified),
        "updated_at": iso(policy.updated_at),
        "version_count": version_count,
        "current_version_number": current_number,
    }


def list_policies(
    session: Session,
    *,
    tenant_id: int,
    search: str = "",
    policy_type: str | None = None,
    sort: str = "display_name",
    descending: bool = False,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """Present (not removed) policies of one tenant. An unknown sort key sorts by name."""
    p, current = Policy, aliased(PolicyVersion)
    version_count = (
        select(sa.func.count())
        .select_from(PolicyVersion)
        .where(PolicyVersion.policy_id == p.id)
        .correlate(p)
        .scalar_subquery()
        .label("version_count")
    )
    query = (
        select(p, version_count, current.version_number)
        .outerjoin(current, current.id == p.current_version_id)
        .where(p.tenant_id == tenant_id, p.removed_at.is_(None))
    )
    if policy_type:
        query = query.where(p.policy_type == policy_type)
    matches = contains_text(p.display_name, search)
    if matches is not None:
        query = query.where(matches)
    sort = sort if sort in SORT_KEYS else "display_name"
    column = policy_type_label_sql(p.policy_type) if sort == "policy_type" else getattr(p, sort)
    text = sort in ("display_name", "policy_type")
    query = query.order_by(*ordered_by(column, p.id, descending=descending, text=text))
    return paginate(session, query, page=page, page_size=page_size, row=_policy_row)


def _version_row(version: PolicyVersion, *, current_id: int | None) -> dict:
    return {
        "id": version.id,
        "version_number": version.version_number,
        "content_hash_short": version.content_hash[:12],
        "captured_at": iso(version.captured_at),
        "operation_run_id": version.operation_run_id,
        "assignment_count": len(version.assignments or []),
        "scope_tags": list(version.scope_tags or []),
        "is_current": version.id == current_id,
        "payload_json": payload_json(version.payload),
    }


def get_policy_detail(session: Session, *, tenant_id: int, policy_id: int) -> dict | None:
    """One policy and its newest versions (at most MAX_VERSIONS_SHOWN; `version_count` says how
    many exist). None for an unknown id and for another tenant's policy alike."""
    policy = session.exec(
        select(Policy).where(Policy.id == policy_id, Policy.tenant_id == tenant_id)
    ).first()
    if policy is None:
        return None
    v = PolicyVersion
    newest = (
        select(v).where(v.policy_id == policy.id).order_by(v.version_number.desc(), v.id.desc())
    )
    versions = session.exec(newest.limit(MAX_VERSIONS_SHOWN)).all()
    count = session.exec(select(sa.func.count()).select_from(v).where(v.policy_id == policy.id))
    return {
        "id": policy.id,
        "display_name": policy.display_name,
        "policy_type": policy.policy_type,
        "policy_type_label": policy_type_label(policy.policy_type),
        "graph_id": policy.graph_id,
        "last_modified": iso(policy.last_modified),
        "removed": policy.removed_at is not None,
        "version_count": count.one(),
        "versions": [_version_row(x, current_id=policy.current_version_id) for x in versions],
    }
