"""Test data for users; other apps' factories build on these."""

import factory

from apps.accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    # Valid Cambodian mobile numbers: Cellcard's 012 range, one per user.
    phone = factory.Sequence(lambda n: f"+85512{n:06d}")
    display_name = factory.Faker("first_name")
    password = factory.django.Password(None)
