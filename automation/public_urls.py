"""Public, token-signed pages reached from sent emails (design §8): no login."""

from django.urls import path

from automation import public_views, tracking_views

urlpatterns = [
    path("u/<str:token>", public_views.unsubscribe, name="public-unsubscribe"),
    path("p/<str:token>", public_views.preferences, name="public-preferences"),
    path("c/<str:token>", public_views.subscription_confirm, name="public-subscription-confirm"),
    path("t/o/<str:token>", tracking_views.open_pixel, name="public-track-open"),
    path("t/c/<str:token>", tracking_views.click, name="public-track-click"),
]
