from django.urls import path

from dropship import views

app_name = "factory"

urlpatterns = [
    path("", views.home, name="home"),
]
