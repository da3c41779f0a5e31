"""templates API (being built)."""

urlpatterns: list = []
