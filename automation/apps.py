from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking
        from django.db.models.signals import post_delete, post_save, pre_save

        from automation.esp_tracking import on_tracking
        from automation.models import Flow
        from automation.trigger_watch import on_flow_deleted, on_flow_post_save, on_flow_pre_save
        from automation.triggers import (
            on_contacts_changed,
            on_transitions_written,
            single_event_write,
        )
        from contacts.signals import contacts_changed
        from contacts.single_event_writes import single_event_writer_register
        from segments.signals import transitions_written

        contacts_changed.connect(on_contacts_changed, dispatch_uid="automation.contacts_changed")
        single_event_writer_register("automation.contacts_changed", single_event_write)
        transitions_written.connect(
            on_transitions_written, dispatch_uid="automation.transitions_written"
        )
        pre_save.connect(on_flow_pre_save, sender=Flow, dispatch_uid="automation.flow_pre_save")
        post_save.connect(on_flow_post_save, sender=Flow, dispatch_uid="automation.flow_post_save")
        post_delete.connect(on_flow_deleted, sender=Flow, dispatch_uid="automation.flow_deleted")
        tracking.connect(on_tracking, dispatch_uid="automation.esp_tracking")
