from django.urls import path

from shops import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("switch-shop/", views.switch_shop, name="switch_shop"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/reveal/", views.order_reveal, name="order_reveal"),
]
