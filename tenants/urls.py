from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("partner/", views.partner_dashboard, name="partner_dashboard"),
]
