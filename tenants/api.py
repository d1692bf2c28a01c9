"""Customers' API."""

urlpatterns = []
