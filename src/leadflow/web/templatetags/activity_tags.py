"""The lead page's activity panel, rendered from the page's lead and user."""

from django import template

from leadflow.core.actor import Actor

register = template.Library()


@register.inclusion_tag("crm/partials/_activity_panel.html", takes_context=True)
def activity_panel(context):
    from leadflow.web.views.activities import panel_context

    return panel_context(Actor(context["request"].user, "ui"), context["lead"])
