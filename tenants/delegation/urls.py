"""Delegated administration's pages, in the `tenants` namespace (included by tenants/urls.py)."""

from django.urls import path

from tenants.delegation import views

urlpatterns = [
    # Delegated-admin offers and relationships, the partner's side.
    path("partner/delegated-admin/", views.partner_delegation, name="delegation"),
    path(
        "partner/delegated-admin/offers/new/",
        views.offer_new,
        name="offer_new",
    ),
    path(
        "partner/delegated-admin/offers/<int:offer_pk>/withdraw/",
        views.offer_withdraw_view,
        name="offer_withdraw",
    ),
    path(
        "partner/delegated-admin/offers/<int:offer_pk>/resend/",
        views.offer_resend_view,
        name="offer_resend",
    ),
    path(
        "partner/delegated-admin/relationships/<int:relationship_pk>/terminate/",
        views.partner_relationship_terminate,
        name="relationship_terminate",
    ),
    path("partner/activity/", views.partner_activity, name="partner_activity"),
    path(
        "partner/activity/export/",
        views.partner_activity_export,
        name="partner_activity_export",
    ),
    # Delegated-admin offers and relationships, the customer's side.
    path(
        "customer/partner-relationships/",
        views.customer_relationships,
        name="customer_relationships",
    ),
    path(
        "customer/partner-relationships/offers/<int:offer_pk>/",
        views.offer_answer_view,
        name="offer_answer",
    ),
    path(
        "customer/partner-relationships/<int:relationship_pk>/remove-roles/",
        views.customer_relationship_terminate,
        name="customer_relationship_terminate",
    ),
    path("customer/offer/<str:token>/", views.offer_link, name="offer_link"),
    path("customer/activity/", views.customer_activity, name="customer_activity"),
    path(
        "customer/activity/export/",
        views.customer_activity_export,
        name="customer_activity_export",
    ),
]
