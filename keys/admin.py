from django.contrib import admin

from keys.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "term_months"]
    search_fields = ["sku", "name"]
