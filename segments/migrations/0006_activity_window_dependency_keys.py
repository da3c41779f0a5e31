"""Segments reading last_activity_at only through within_last / older_than windows depend on
"activity:<window>" instead of every event (segments.dependencies): recompute the stored keys.

Keys computed before were a superset (every event), so until this runs nothing is missed; a
pending row written before the upgrade carries no "activity:" kind, and the periodic
re-evaluation of these time-relative segments covers it within one interval.
"""

from django.db import migrations


def recompute(apps, schema_editor):
    from segments.dependencies import dependency_keys

    Segment = apps.get_model("segments", "Segment")
    for segment in Segment.objects.only("pk", "conditions", "dependency_keys").iterator():
        try:
            keys = dependency_keys(segment.conditions)
        except Exception:  # a tree that no longer validates keeps its keys
            continue
        if keys != segment.dependency_keys:
            Segment.objects.filter(pk=segment.pk).update(dependency_keys=keys)


class Migration(migrations.Migration):
    dependencies = [("segments", "0005_transitions_feed_and_failures")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
