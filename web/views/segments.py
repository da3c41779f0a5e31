from django.shortcuts import render

from accounts.roles import MARKETER, role_required
from segments.models import Segment


@role_required(MARKETER)
def segment_list_page(request):
    segments = Segment.objects.only(
        "id", "name", "description", "size", "last_evaluated_at", "failed_at", "updated_at"
    )
    return render(request, "web/segments/list.html", {"segments": segments})
