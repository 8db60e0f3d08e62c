from django.db import models


class Language(models.TextChoices):
    KHMER = "km", "ខ្មែរ"
    ENGLISH = "en", "English"
