"""A user and all its role-based grants, from one query.

A non-admin's permission check in MLflow 3.17.2 reads the user row (`get_user`), then the user's grants
(`list_grants`: roles joined with their permissions), two round trips on every request. Here both come
from one outer join, whose answer `request_users` keeps for the rest of the request; `list_grants` then
filters it in memory exactly as MLflow's query does (workspace, resource types plus the workspace-wide
type). A user has a few roles of a few grants, so reading all of them costs about what one row does.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_STATE, RESOURCE_DOES_NOT_EXIST
from mlflow.server.auth.db.models import SqlRole, SqlRolePermission, SqlUser, SqlUserRoleAssignment
from mlflow.server.auth.entities import User
from mlflow.server.auth.permissions import RESOURCE_TYPE_WORKSPACE, _validate_resource_type
from mlflow.server.auth.sqlalchemy_store import RoleGrantRow
from sqlalchemy import select


@dataclass(frozen=True)
class UserGrants:
    user: User
    # (workspace, grant) for every permission of every role assigned to the user.
    grants: tuple[tuple[str, RoleGrantRow], ...]

    def in_workspace(self, workspace: str, resource_types) -> list[RoleGrantRow]:
        """What MLflow's `list_grants(user.id, workspace, resource_types)` answers."""
        types = set(resource_types)
        for resource_type in types:
            _validate_resource_type(resource_type)
        types.add(RESOURCE_TYPE_WORKSPACE)
        return [grant for where, grant in self.grants if where == workspace and grant.resource_type in types]


_QUERY = (
    select(
        SqlUser.id,
        SqlUser.username,
        SqlUser.password_hash,
        SqlUser.is_admin,
        SqlRole.workspace,
        SqlRolePermission.resource_type,
        SqlRolePermission.resource_pattern,
        SqlRolePermission.permission,
    )
    .outerjoin(SqlUserRoleAssignment, SqlUserRoleAssignment.user_id == SqlUser.id)
    .outerjoin(SqlRole, SqlRole.id == SqlUserRoleAssignment.role_id)
    .outerjoin(SqlRolePermission, SqlRolePermission.role_id == SqlRole.id)
)


def read(store, username: str) -> UserGrants:
    """The user named `username` with its grants; MLflow's own errors when there is no such user."""
    with store.ManagedSessionMaker() as session:
        rows = session.execute(_QUERY.where(SqlUser.username == username)).all()
    if not rows:
        raise MlflowException(f"User with username={username} not found", RESOURCE_DOES_NOT_EXIST)
    if len({row.id for row in rows}) > 1:
        raise MlflowException(f"Found multiple users with username={username}", INVALID_STATE)
    first = rows[0]
    user = User(
        id_=first.id, username=first.username, password_hash=first.password_hash, is_admin=first.is_admin
    )
    grants = tuple(
        (row.workspace, RoleGrantRow(row.resource_type, row.resource_pattern, row.permission))
        for row in rows
        if row.resource_type is not None
    )
    return UserGrants(user, grants)
