import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segflow.settings")

app = Celery("segflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect(dispatch_uid="segflow.database_connections_settle.prerun")
@signals.task_postrun.connect(dispatch_uid="segflow.database_connections_settle.postrun")
def database_connections_settle(sender=None, **kwargs) -> None:
    """Before and after each task, what Django does around a web request: close a connection
    that is broken or older than CONN_MAX_AGE, keep the others. Celery's own Django fixup
    would close every connection around every task (settings.CELERY_DB_REUSE_MAX turns that
    off), and a new PostgreSQL backend per task cost each incremental batch its connection
    set-up and cold catalog caches (docs/benchmarks.md). An eager task runs inside its
    caller's transaction, so it is left alone, as Celery's fixup does."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
