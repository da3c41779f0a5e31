from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from contacts import views as contacts_views

admin.site.site_header = "Segflow"
admin.site.site_title = "Segflow admin"
admin.site.index_title = "Contacts, segments and flows"

urlpatterns = [
    path("healthz", contacts_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("contacts.api.urls")),
    path("api/v1/", include("segments.api.urls")),
    path("api/v1/", include("automation.api.urls")),
    path("api/v1/", include("scoring.api.urls")),
    path("", include("automation.public_urls")),
    path("", include("accounts.urls")),
    path("", include("web.urls")),
    path("webhooks/", include("billing.urls")),
    path("webhooks/esp/", include("automation.esp_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "segflow.api.errors.not_found"
