from __future__ import annotations

app_name = "diagnosis"

urlpatterns: list = []
