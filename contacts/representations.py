"""The public JSON shape of a contact, shared by every API that lists contacts (the contacts
API, segment members and previews)."""

from rest_framework import serializers

from contacts.models import Contact


class ContactOutputSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "country",
            "timezone",
            "external_id",
            "fields",
            "tags",
            "lead_score",
            "email_status",
            "last_activity_at",
            "created_at",
            "updated_at",
        ]

    def get_tags(self, contact) -> list[str]:
        return sorted((tag.name for tag in contact.tags.all()), key=str.lower)
