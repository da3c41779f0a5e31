"""flows API (being built)."""

urlpatterns: list = []
