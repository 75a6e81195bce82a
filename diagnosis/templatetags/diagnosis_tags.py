from __future__ import annotations

from django import template

from diagnosis.models import OperatingPoint

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    """Probability as a percentage; one decimal near the ends, where rounding would say 0% or 100%."""
    if value is None:
        return ""
    digits = 1 if value >= 0.995 or value <= 0.005 else 0
    return f"{value * 100:.{digits}f}%"


@register.filter
def point_name(value: str | None) -> str:
    """An operating point in words ("high_sensitivity" -> "High sensitivity")."""
    return OperatingPoint(value).label if value in OperatingPoint.values else ""
