"""The factory portal (its own navigation). Its lists arrive with the dropship issue."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from shops.views import shop_required


@shop_required
def home(request: HttpRequest) -> HttpResponse:
    if not request.actor.shop.is_factory:
        return redirect("console:home")
    return render(request, "factory/dropship/home.html")
