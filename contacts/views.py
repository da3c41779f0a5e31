from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


def home(request):
    # The marketer UI grows here; until then the page says so and points to the admin and docs.
    return render(request, "home.html")


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
