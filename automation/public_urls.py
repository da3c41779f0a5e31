"""Public, token-signed pages reached from sent emails (design §8): no login."""

urlpatterns: list = []
