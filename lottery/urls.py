from django.urls import path  # noqa: F401  (filled by the draw publication pages)

urlpatterns = []
