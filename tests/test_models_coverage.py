"""Every model of ours is in the admin and has a factory (issue 2: "Django admin registered for
every model; factories for every model in tests")."""

import factory
import pytest
from django.apps import apps
from django.contrib import admin

from tests import factories

OUR_APPS = ("contacts", "segments", "automation", "billing", "scoring")
OUR_MODELS = [m for app in OUR_APPS for m in apps.get_app_config(app).get_models()]
# Kept out of the admin on purpose, each for the reason in its app's admin.py.
NOT_IN_ADMIN = {"ConditionRuleHit"}
FACTORY_BY_MODEL = {
    value._meta.model: value
    for value in vars(factories).values()
    if isinstance(value, type) and issubclass(value, factory.django.DjangoModelFactory)
}


@pytest.mark.parametrize(
    "model", [m for m in OUR_MODELS if m.__name__ not in NOT_IN_ADMIN], ids=lambda m: m.__name__
)
def test_model_is_registered_in_the_admin(model):
    assert model in admin.site._registry


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m.__name__)
def test_model_has_a_factory_that_saves(model, db):
    assert model in FACTORY_BY_MODEL, f"no factory for {model.__name__}"

    instance = FACTORY_BY_MODEL[model]()

    assert model.objects.filter(pk=instance.pk).exists()
