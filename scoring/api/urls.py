"""Scoring API routes: /api/v1/scoring-rules and /api/v1/contacts/{id}/score."""

urlpatterns: list = []
