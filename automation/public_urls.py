"""Public, token-signed pages reached from sent emails (design §8): no login."""

from django.urls import path

from automation import public_views

urlpatterns = [
    path("u/<str:token>", public_views.unsubscribe, name="public-unsubscribe"),
    path("p/<str:token>", public_views.preferences, name="public-preferences"),
]
