from django.urls import path

from keys import views

app_name = "keys"

urlpatterns = [
    path("partner/keys/check/", views.check_key, name="check_key"),
]
