"""Admin pages that compose several apps (axero_idp.console)."""

from django.contrib import admin

from axero_idp.console.audit import AuditEventAdmin
from axero_idp.console.connections import ConnectionAdmin
from users.models import AuditEvent, Connection

admin.site.register(Connection, ConnectionAdmin)
admin.site.register(AuditEvent, AuditEventAdmin)
