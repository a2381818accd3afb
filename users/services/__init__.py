"""Every write to the directory goes through these functions (STYLE.md)."""

from users.services.activation import (
    user_deactivate,
    user_idp_reactivation_allow,
    user_password_reset,
    user_reactivate,
)
from users.services.actors import Actor
from users.services.audit import (
    audit_insert_from_select,
    audit_record,
    audit_record_from_select,
    audit_record_many,
)
from users.services.connections import connection_create, connection_ensure
from users.services.creates_many import NewUser, users_create_many
from users.services.custom_fields import custom_field_define
from users.services.roles import (
    role_create,
    role_delete,
    role_members_add,
    role_members_remove,
    role_members_replace,
    role_rename,
    user_roles_sync,
)
from users.services.unmapped import attribute_unmapped_forget, attributes_unmapped_record
from users.services.users import (
    MANAGER_BY_SAML,
    MANAGER_BY_SCIM,
    ManagerKeys,
    manager_ref_is_current,
    manager_resolve,
    session_end_all,
    user_access_set,
    user_create,
    user_delete,
    user_image_recorded,
    user_manager_set,
    user_update,
)

__all__ = [
    "MANAGER_BY_SAML",
    "MANAGER_BY_SCIM",
    "Actor",
    "ManagerKeys",
    "NewUser",
    "attribute_unmapped_forget",
    "attributes_unmapped_record",
    "audit_insert_from_select",
    "audit_record",
    "audit_record_from_select",
    "audit_record_many",
    "connection_create",
    "connection_ensure",
    "custom_field_define",
    "manager_ref_is_current",
    "manager_resolve",
    "role_create",
    "role_delete",
    "role_members_add",
    "role_members_remove",
    "role_members_replace",
    "role_rename",
    "session_end_all",
    "user_access_set",
    "user_create",
    "user_deactivate",
    "user_delete",
    "user_idp_reactivation_allow",
    "user_image_recorded",
    "user_manager_set",
    "user_password_reset",
    "user_reactivate",
    "user_roles_sync",
    "user_update",
    "users_create_many",
]
