from django.apps import AppConfig


class ScoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scoring"
    verbose_name = "Lead scoring"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from contacts.signals import contacts_changed
        from contacts.single_event_writes import single_event_writer_register
        from scoring.event_scoring import on_contacts_changed, single_event_write
        from scoring.models import ScoringRule
        from scoring.rule_watch import on_rule_changed

        contacts_changed.connect(on_contacts_changed, dispatch_uid="scoring.contacts_changed")
        single_event_writer_register("scoring.contacts_changed", single_event_write)
        post_save.connect(on_rule_changed, sender=ScoringRule, dispatch_uid="scoring.rule_saved")
        post_delete.connect(
            on_rule_changed, sender=ScoringRule, dispatch_uid="scoring.rule_deleted"
        )
