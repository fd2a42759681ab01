from django import template

register = template.Library()


@register.filter
def deprecation(version, today) -> str:
    return version.deprecation_status(today)
