from __future__ import annotations

from django import forms
from django.core.validators import validate_email

from alerts.models import AlertSettings

MAX_RECIPIENTS = 20


class AlertSettingsForm(forms.ModelForm):
    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Receives a JSON POST for each alert.",
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/hooks/triggerkit"}
        ),
    )

    class Meta:
        model = AlertSettings
        fields = ["webhook_url", "emails"]
        labels = {"webhook_url": "Webhook URL", "emails": "E-mail recipients"}
        help_texts = {
            "webhook_url": "Receives a JSON POST for each alert.",
            "emails": "Separated by commas or new lines.",
        }
        widgets = {
            "webhook_url": forms.URLInput(
                attrs={"placeholder": "https://example.com/hooks/triggerkit"}
            ),
            "emails": forms.Textarea(
                attrs={"rows": 2, "placeholder": "ops@example.com"}
            ),
        }

    def clean_emails(self) -> str:
        raw = self.cleaned_data["emails"]
        recipients = [
            part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()
        ]
        if len(recipients) > MAX_RECIPIENTS:
            raise forms.ValidationError(f"At most {MAX_RECIPIENTS} recipients.")
        for address in recipients:
            try:
                validate_email(address)
            except forms.ValidationError as exc:
                raise forms.ValidationError(
                    f"{address!r} is not an e-mail address."
                ) from exc
        return ", ".join(recipients)
