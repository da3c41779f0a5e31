"""messages API (being built)."""

urlpatterns: list = []
