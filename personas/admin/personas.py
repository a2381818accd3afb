"""The persona editor: the rule as validated JSON with the language's help beside it,
and a Preview button that shows who would join and leave before anything is saved."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from axero_idp.errors import ApplicationError
from personas.admin.rule_help import rule_language_help
from personas.admin.spaces import DeletesMemberships
from personas.models import Persona, Space
from personas.rules import validate_rule
from personas.selectors import personas_with_match_count
from personas.selectors_preview import persona_rule_preview
from personas.services import (
    SpaceGrant,
    clean_space_grants,
    persona_delete,
    persona_evaluate,
    persona_upsert,
)
from users.admin.common import ServiceErrorsAsMessages
from users.selectors import custom_fields_by_key
from users.services import Actor

PREVIEW = "_preview"


class PersonaForm(forms.ModelForm):
    spaces_json = forms.JSONField(
        label="Spaces",
        initial=list,
        help_text='Where matches go, e.g. [{"space": "new-hires", "role": "member"}].',
    )

    class Meta:
        model = Persona
        fields = ("slug", "name", "rule")
        widgets = {
            "rule": forms.Textarea(
                attrs={"rows": 14, "class": "persona-rule-editor", "spellcheck": "false"}
            )
        }
        help_texts = {
            "rule": "JSON: a condition, or all / any / not of rules (the help is beside this "
            "form). Preview shows who would join and leave before you save.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["spaces_json"] = [
                {"space": link.space.slug, "role": link.role}
                for link in self.instance.space_links.select_related("space").order_by(
                    "space__slug"
                )
            ]

    def clean_rule(self) -> Any:
        rule = self.cleaned_data["rule"]
        try:
            validate_rule(rule, custom_fields=custom_fields_by_key())
        except ApplicationError as exc:
            raise forms.ValidationError(exc.detail) from exc
        return rule

    def clean_spaces_json(self) -> list[SpaceGrant]:
        known = set(Space.objects.values_list("slug", flat=True))
        try:
            return clean_space_grants(
                self.cleaned_data["spaces_json"], path="spaces", known_spaces=known
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.detail) from exc


@admin.register(Persona)
class PersonaAdmin(DeletesMemberships, ServiceErrorsAsMessages, admin.ModelAdmin):
    membership_field = "persona"
    form = PersonaForm
    list_display = ("slug", "name", "matching", "has_time_rule", "last_evaluated_at")
    search_fields = ("slug", "name")
    readonly_fields = ("matching", "has_time_rule", "last_evaluated_at", "updated_at")
    actions = ("evaluate_now",)

    class Media:
        css = {"all": ("personas/editor.css",)}
        js = ("personas/editor.js",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("slug", "name", "rule", "spaces_json", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("slug", *self.readonly_fields) if obj is not None else self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Persona]:
        return personas_with_match_count()

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and PREVIEW in request.POST:
            return self._preview_view(request, object_id, extra_context or {})
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        # Only when the form is shown: a save redirects and needs no help.
        context["rule_help"] = rule_language_help()
        return super().render_change_form(request, context, *args, **kwargs)

    def _preview_object(self, request: HttpRequest, object_id: str | None) -> Persona | None:
        """The persona being edited (None on the add page), if this admin may edit it."""
        if object_id is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
            return None
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("no such persona")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _preview_view(
        self, request: HttpRequest, object_id: str | None, extra_context: dict[str, Any]
    ) -> HttpResponse:
        """The change form again, with the posted (unsaved) values and what they would
        do. Nothing is written: no save, no audit, no admin log entry."""
        obj = self._preview_object(request, object_id)
        fieldsets: Any = self.get_fieldsets(request, obj)
        form_class = self.get_form(
            request, obj, change=obj is not None, fields=flatten_fieldsets(fieldsets)
        )
        form = form_class(request.POST, instance=obj)
        if form.is_valid():
            extra_context["rule_preview"] = persona_rule_preview(
                rule=form.cleaned_data["rule"], persona_id=obj.pk if obj else None
            )
        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'Change' if obj else 'Add'} {self.opts.verbose_name}",
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **extra_context,
        }
        return self.render_change_form(
            request, context, add=obj is None, change=obj is not None, obj=obj
        )

    @admin.display(description="Matching users", ordering="match_count")
    def matching(self, obj: Persona) -> int:
        count = getattr(obj, "match_count", None)
        if count is None:
            count = obj.memberships.values("user").distinct().count() if obj.pk else 0
        return int(count)

    def save_model(self, request: HttpRequest, obj: Persona, form: Any, change: bool) -> None:
        saved, _ = persona_upsert(
            slug=obj.slug,
            name=obj.name,
            rule=obj.rule,
            spaces=form.cleaned_data["spaces_json"],
            actor=Actor.admin(request.user),
        )
        obj.pk, obj._state.adding = saved.pk, False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # persona_upsert wrote the space links; the form has no relations of its own.
        return None

    def delete_model(self, request: HttpRequest, obj: Persona) -> None:
        persona_delete(persona=obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Persona]) -> None:
        for persona in queryset:
            persona_delete(persona=persona, actor=Actor.admin(request.user))

    @admin.action(description="Evaluate selected personas now")
    def evaluate_now(self, request: HttpRequest, queryset: QuerySet[Persona]) -> None:
        for persona in queryset.order_by("pk"):
            result = persona_evaluate(persona=persona, actor=Actor.admin(request.user))
            self.message_user(
                request,
                f"{persona.slug}: {result.added} added, {result.removed} removed",
                messages.SUCCESS,
            )
