"""Logging in: Django's LoginView with the throttled sign-in form. A refused attempt (too many
failed sign-ins) answers 429 with Retry-After and says on the page how long to wait."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from leadflow.web.forms import SignInForm


class LoginView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
