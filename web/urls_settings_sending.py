"""Routes of web/views/ pages owned together (included by web/urls.py)."""

urlpatterns: list = []
