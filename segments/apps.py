from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts.signals import contacts_changed
        from segments.scheduler import on_contacts_changed

        contacts_changed.connect(on_contacts_changed, dispatch_uid="segments.contacts_changed")
