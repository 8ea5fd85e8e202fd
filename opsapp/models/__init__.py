"""All tables; importing this package registers them on SQLModel.metadata."""

from opsapp.models.auth import SignInAttempt, UserSession
from opsapp.models.backups import BackupItem, BackupSchedule, BackupSet
from opsapp.models.drift import DriftFinding, FindingKind, FindingState
from opsapp.models.groups import DirectoryGroup
from opsapp.models.inventory import InventoryItem
from opsapp.models.locks import JobLock
from opsapp.models.notifications import Notification
from opsapp.models.operations import OperationRun
from opsapp.models.policies import Policy, PolicyVersion
from opsapp.models.restore import ItemAction, ItemResult, RestoreItem, RestoreRun, RestoreStatus
from opsapp.models.tenancy import Membership, ProviderKind, Role, Tenant, User

__all__ = [
    "BackupItem",
    "BackupSchedule",
    "BackupSet",
    "DirectoryGroup",
    "DriftFinding",
    "FindingKind",
    "FindingState",
    "InventoryItem",
    "ItemAction",
    "ItemResult",
    "Policy",
    "PolicyVersion",
    "JobLock",
    "Membership",
    "Notification",
    "OperationRun",
    "ProviderKind",
    "RestoreItem",
    "RestoreRun",
    "RestoreStatus",
    "Role",
    "SignInAttempt",
    "Tenant",
    "User",
    "UserSession",
]
