from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("partner/", views.partner_dashboard, name="partner_dashboard"),
    path("partner/customers/", views.partner_customers, name="partner_customers"),
    path("partner/customers/<int:pk>/", views.partner_customer, name="partner_customer"),
    path("partner/customers/<int:pk>/created/", views.tenant_created, name="tenant_created"),
    path(
        "partner/customers/<int:pk>/add-licenses/",
        views.customer_keys,
        {"intent": "add_licenses"},
        name="add_licenses",
    ),
    path(
        "partner/customers/<int:pk>/renew/",
        views.customer_keys,
        {"intent": "renew"},
        name="renew",
    ),
    path("partner/redeem/<int:pk>/apply/", views.apply_keys, name="apply_keys"),
    path(
        "partner/customers/<int:pk>/admins/<int:account_pk>/resend-activation/",
        views.resend_activation,
        name="resend_activation",
    ),
    path("partner/redeem/<int:pk>/customer/", views.create_tenant, name="create_tenant"),
    path(
        "partner/redeem/<int:pk>/customer/keep/",
        views.create_tenant_keep,
        name="create_tenant_keep",
    ),
    path("partner/domain-check/", views.domain_check, name="domain_check"),
    path("customer/", views.customer_home, name="customer_home"),
    path("customer/licenses/", views.customer_licenses, name="customer_licenses"),
    path("customer/users/", views.customer_users, name="customer_users"),
    path(
        "customer/subscriptions/<int:subscription_pk>/partner-of-record/",
        views.customer_partner_of_record,
        name="customer_partner_of_record",
    ),
    path("customer/users/add/", views.customer_user_add, name="customer_user_add"),
    path("customer/users/<int:account_pk>/", views.customer_user, name="customer_user"),
    path(
        "customer/users/<int:account_pk>/remove/",
        views.customer_user_remove,
        name="customer_user_remove",
    ),
    path(
        "customer/users/<int:account_pk>/resend-activation/",
        views.customer_resend_activation,
        name="customer_resend_activation",
    ),
    path(
        "customer/users/<int:account_pk>/licenses/<int:subscription_pk>/assign/",
        views.customer_license_assign,
        name="customer_license_assign",
    ),
    path(
        "customer/users/<int:account_pk>/licenses/<int:subscription_pk>/unassign/",
        views.customer_license_unassign,
        name="customer_license_unassign",
    ),
    path("customer/activate/<uidb64>/<token>/", views.ActivateView.as_view(), name="activate"),
    path(
        "customer/activate/<uidb64>/<token>/renew/",
        views.renew_activation,
        name="activation_renew",
    ),
]
