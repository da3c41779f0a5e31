"""Every model of ours is in the admin and has a factory (issue 2: "Django admin registered for
every model; factories for every model in tests")."""

import factory
import pytest
from django.apps import apps
from django.contrib import admin

from tests import factories

OUR_APPS = ("contacts", "segments", "automation", "billing")
OUR_MODELS = [m for app in OUR_APPS for m in apps.get_app_config(app).get_models()]
FACTORY_BY_MODEL = {
    value._meta.model: value
    for value in vars(factories).values()
    if isinstance(value, type) and issubclass(value, factory.django.DjangoModelFactory)
}


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m.__name__)
def test_model_is_registered_in_the_admin(model):
    assert model in admin.site._registry


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m.__name__)
def test_model_has_a_factory_that_saves(model, db):
    assert model in FACTORY_BY_MODEL, f"no factory for {model.__name__}"

    instance = FACTORY_BY_MODEL[model]()

    assert model.objects.filter(pk=instance.pk).exists()
