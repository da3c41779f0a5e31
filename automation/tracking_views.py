"""Public tracking routes of sent emails (design §8): no login, no session.

/t/o/<token>: the open pixel, a 1x1 GIF never cached (so each open reaches us).
/t/c/<token>: records the click, then redirects (302) to the URL the token signs.
A token that does not verify is a 404 and records nothing. A message that is gone (its
contact deleted) still gets its pixel and its redirect; nothing is recorded for it.
"""

import base64
import logging

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from automation.tokens import click_token_read, open_token_read
from automation.tracking import message_click_record, message_open_record

logger = logging.getLogger(__name__)

PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _not_cached(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_not_required
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    message_id = open_token_read(token)
    if message_id is None:
        raise Http404("Unknown link.")
    if request.method == "GET":
        try:
            message_open_record(message_id=message_id, now=timezone.now())
        except Exception:  # the image answers whatever happens to the record
            logger.exception("recording email.opened failed for message %s", message_id)
    return _not_cached(HttpResponse(PIXEL_GIF, content_type="image/gif"))


@login_not_required
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str) -> HttpResponse:
    link = click_token_read(token)
    if link is None:
        raise Http404("Unknown link.")
    response = HttpResponseRedirect(link.url)  # http(s) only: the rewriting signs no other
    if request.method == "GET":
        try:
            message_click_record(message_id=link.message_id, url=link.url, now=timezone.now())
        except Exception:  # the recipient reaches the page whatever happens to the record
            logger.exception("recording email.clicked failed for message %s", link.message_id)
    return _not_cached(response)
