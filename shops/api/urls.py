from django.urls import path

from shops.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("orders/", views.OrderListView.as_view(), name="api-order-list"),
    path("orders/<int:order_id>/", views.OrderDetailView.as_view(), name="api-order-detail"),
    path("orders/<int:order_id>/reveal/", views.OrderRevealView.as_view(), name="api-order-reveal"),
]
