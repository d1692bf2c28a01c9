from django.urls import path

from renewals import views

app_name = "renewals"

urlpatterns = [
    path("partner/renewals/", views.partner_renewals, name="partner_renewals"),
    path("partner/renewals/export.csv", views.partner_renewals_csv, name="partner_renewals_csv"),
    path("partner/renewals/<int:pk>/", views.partner_subscription, name="partner_subscription"),
    path(
        "partner/renewals/<int:pk>/direct-billing/",
        views.partner_direct_billing,
        name="partner_direct_billing",
    ),
    path(
        "customer/subscriptions/<int:pk>/",
        views.customer_subscription,
        name="customer_subscription",
    ),
    path(
        "customer/subscriptions/<int:pk>/direct-billing/",
        views.customer_direct_billing,
        name="customer_direct_billing",
    ),
]
