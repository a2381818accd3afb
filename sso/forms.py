"""Forms of the pages that import an identity provider's metadata (admin's connection
page, the setup link's page)."""

from __future__ import annotations

from django import forms


class MetadataForm(forms.Form):
    metadata_xml = forms.CharField(
        label="Paste the IdP metadata XML", required=False, widget=forms.Textarea
    )
    metadata_file = forms.FileField(label="or upload the metadata file", required=False)
    metadata_url = forms.URLField(
        label="or its metadata URL (refreshed daily)", required=False, assume_scheme="https"
    )

    def metadata_bytes(self) -> bytes | None:
        upload = self.cleaned_data.get("metadata_file")
        if upload is not None:
            return bytes(upload.read())
        text = self.cleaned_data.get("metadata_xml", "").strip()
        return text.encode() if text else None
