"""Pages of the merchant console: login, shop switch, home, orders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shops import selectors, services
from shops.auth import login_client
from shops.overview import overview_figures
from waybill_console.errors import AppError, page_error


class LoginView(auth_views.LoginView):
    template_name = "console/shops/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        """A locked account or client gets the 429 page before any password is checked;
        the backend (``shops.auth.AccountBackend``) counts the failures."""
        username = request.POST.get("username", "")
        try:
            services.login_check_allowed(username=username, client=login_client(request))
        except AppError as err:
            form = self.get_form()
            return page_error(request, err, template=self.template_name, context={"form": form})
        return super().post(request, *args, **kwargs)


def no_shop(request: HttpRequest) -> HttpResponse:
    """A signed-in user with no active shop (ops staff, a sub-account of a deactivated
    shop): a page that says so, with the admin's link for staff; never a 500."""
    return render(request, "console/shops/no_shop.html", status=403)


def shop_required(view):
    """A console page: logged in, and a member of at least one shop."""

    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        # request.membership is a lazy object: "is None" is never true, its truth value is
        if not request.membership:
            return no_shop(request)
        try:
            return view(request, *args, **kwargs)
        except AppError as err:
            return page_error(request, err)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@login_required
@require_POST
def switch_shop(request: HttpRequest) -> HttpResponse:
    try:
        membership = services.session_switch_shop(
            request=request, shop_id=int(request.POST.get("shop", 0))
        )
    except (AppError, ValueError) as err:
        if isinstance(err, AppError):
            return page_error(request, err)
        return redirect("console:home")
    messages.success(request, _("Switched to %(shop)s") % {"shop": membership.shop.name})
    target = "factory:home" if membership.shop.is_factory else "console:home"
    nxt = request.POST.get("next")
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}):
        return redirect(nxt)
    return redirect(target)


@shop_required
def home(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    if actor.shop.is_factory:
        return redirect("factory:home")
    context = {
        "figures": overview_figures(actor=actor),
        "recent_orders": selectors.order_list(actor=actor)[:5],
    }
    return render(request, "console/shops/home.html", context)
