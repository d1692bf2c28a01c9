from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

sku_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,31}$",
    _("A SKU uses capital letters, digits and hyphens, for example BUS-STD."),
)


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=32, unique=True, validators=[sku_validator])
    name = models.CharField(_("name"), max_length=200)
    term_months = models.PositiveSmallIntegerField(
        _("term in months"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("How long one key's subscription lasts."),
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(term_months__gte=1, term_months__lte=60),
                name="product_term_months_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"
