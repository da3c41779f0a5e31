from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts.field_usage import custom_field_readers_requested
        from contacts.selectors import contact_list_filters
        from contacts.signals import contacts_changed, contacts_deleting
        from contacts.single_event_writes import single_event_writer_register
        from segments.contact_deletion import on_contacts_deleting
        from segments.field_readers import segments_reading_field
        from segments.scheduler import on_contacts_changed, single_event_write
        from segments.selectors import contacts_in_segment

        contact_list_filters["segment"] = contacts_in_segment

        contacts_changed.connect(on_contacts_changed, dispatch_uid="segments.contacts_changed")
        single_event_writer_register("segments.contacts_changed", single_event_write)
        contacts_deleting.connect(on_contacts_deleting, dispatch_uid="segments.contacts_deleting")
        custom_field_readers_requested.connect(
            segments_reading_field, dispatch_uid="segments.field_readers"
        )
