"""The app's URLs plus the two floors of the single-event POST, served only by the bench's
gunicorn (bench.ingest_settings), never by segflow.urls.

BARE_PATH is the floor of a Django request on this machine: the same gunicorn, the same
middleware and a request of the same size and headers as the single-event POST, but no
authentication, parsing or database.

FLOOR_PATH is the floor of a *durable* request: the bare view plus the simplest write a
single-event POST could be, one hand-written INSERT of the request body into a scratch table
(FLOOR_TABLE_SQL), committed before the answer. Django runs in autocommit, so the INSERT is
one round trip that is its own transaction; its COMMIT waits for the WAL flush like the
event's. What the single POST costs beyond this view is what the app adds to a durable write.
"""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from segflow.urls import handler404  # noqa: F401 (the root URLconf names the 404 handler)
from segflow.urls import urlpatterns as app_urlpatterns

BARE_PATH = "/bench/bare"
FLOOR_PATH = "/bench/commit"
FLOOR_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_commit_floor "
    "(id bigserial PRIMARY KEY, body text NOT NULL, received_at timestamptz NOT NULL)"
)
_INSERT_SQL = "INSERT INTO bench_commit_floor (body, received_at) VALUES (%s, now())"
_BODY = b'{"id":0,"contact":0,"duplicate":false}'


@csrf_exempt
def bare(request):
    request.body  # noqa: B018 - read like any API view reads it
    return HttpResponse(_BODY, status=202, content_type="application/json")


@csrf_exempt
def commit_floor(request):
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [request.body.decode()])
    return HttpResponse(_BODY, status=202, content_type="application/json")


urlpatterns = [
    path(BARE_PATH.lstrip("/"), bare),
    path(FLOOR_PATH.lstrip("/"), commit_floor),
    *app_urlpatterns,
]
