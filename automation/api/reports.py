"""reports API (being built)."""

urlpatterns: list = []
