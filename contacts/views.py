from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect


def home(request):
    # The marketer UI grows here; until then the admin is the way in.
    return redirect("admin:index")


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
