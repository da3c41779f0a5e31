"""ESP tracking webhooks, mounted under /webhooks/esp/ (segflow/urls.py): anymail's routes
(/webhooks/esp/postmark/tracking/, /mailgun/tracking/, /brevo/tracking/, ...), with the
Amazon SES one served by automation.esp_views (works without boto3). Their reports reach
automation.esp_tracking through anymail's tracking signal."""

from django.urls import include, path

from automation.esp_views import SesTrackingWebhookView

urlpatterns = [
    path(
        "amazon_ses/tracking/",
        SesTrackingWebhookView.as_view(),
        name="esp-amazon-ses-tracking",
    ),
    path("", include("anymail.urls")),
]
