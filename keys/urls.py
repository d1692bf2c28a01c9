from django.urls import path

from keys import views

app_name = "keys"

urlpatterns = [
    path("partner/keys/check/", views.check_key, name="check_key"),
    path("partner/redeem/", views.redeem_start, name="redeem_start"),
    path("partner/redeem/new/", views.redeem_new, name="redeem_new"),
    path("partner/redeem/<int:pk>/keys/", views.redeem_keys, name="redeem_keys"),
    path("partner/redeem/<int:pk>/review/", views.redeem_review, name="redeem_review"),
    path(
        "partner/redeem/<int:pk>/getting-started/",
        views.redeem_getting_started,
        name="redeem_getting_started",
    ),
    path("partner/redeem/<int:pk>/cancel/", views.redeem_cancel, name="redeem_cancel"),
]
