"""The app's URLs plus BARE_PATH, served only by the bench's gunicorn (bench.ingest_settings),
never by segflow.urls.

The bare view is the floor of a Django request on this machine: the same gunicorn, the same
middleware and a request of the same size and headers as the single-event POST, but no
authentication, parsing or database. The single-event rate is quoted as a share of its rate,
a figure that means the same on a slow machine and a fast one.
"""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from segflow.urls import handler404  # noqa: F401 (the root URLconf names the 404 handler)
from segflow.urls import urlpatterns as app_urlpatterns

BARE_PATH = "/bench/bare"
_BODY = b'{"id":0,"contact":0,"duplicate":false}'


@csrf_exempt
def bare(request):
    request.body  # noqa: B018 - read like any API view reads it
    return HttpResponse(_BODY, status=202, content_type="application/json")


urlpatterns = [path(BARE_PATH.lstrip("/"), bare), *app_urlpatterns]
