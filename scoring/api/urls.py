"""Scoring API routes: /api/v1/scoring-rules and /api/v1/contacts/{id}/score."""

from django.urls import path

from scoring.api import rules, scores

urlpatterns = [
    path("scoring-rules", rules.ScoringRuleListApi.as_view(), name="api-scoring-rules"),
    path("scoring-rules/<int:pk>", rules.ScoringRuleDetailApi.as_view(), name="api-scoring-rule"),
    path("contacts/<int:pk>/score", scores.ContactScoreApi.as_view(), name="api-contact-score"),
]
