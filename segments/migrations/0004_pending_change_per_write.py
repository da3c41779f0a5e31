from django.db import migrations, models


def one_row_per_write(apps, schema_editor):
    """Rows queued before this migration hold one contact each: keep them pending."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE segments_pendingcontactchange "
            "SET contact_ids = jsonb_build_array(contact_id), contact_count = 1"
        )
        return
    PendingContactChange = apps.get_model("segments", "PendingContactChange")
    for row in PendingContactChange.objects.only("contact_id").iterator(chunk_size=2000):
        PendingContactChange.objects.filter(pk=row.pk).update(
            contact_ids=[row.contact_id], contact_count=1
        )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0003_daily_stats_verbose_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="pendingcontactchange",
            name="contact_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="pendingcontactchange",
            name="contact_ids",
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(one_row_per_write, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name="pendingcontactchange",
            name="contact_id",
        ),
    ]
