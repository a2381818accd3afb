"""Admin pages that compose several apps (axero_idp.console)."""

from django.contrib import admin

from axero_idp.console.audit import AuditEventAdmin
from axero_idp.console.connections import ConnectionAdmin
from axero_idp.console.user_page import UserPageAdmin
from users.models import AuditEvent, Connection, User

admin.site.register(Connection, ConnectionAdmin)
admin.site.register(AuditEvent, AuditEventAdmin)
# Importing user_page registered media's user admin (over the directory's): the user
# page adds spaces to it.
admin.site.unregister(User)
admin.site.register(User, UserPageAdmin)
