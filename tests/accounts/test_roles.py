import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group

from accounts.roles import ADMIN, MARKETER, user_roles
from accounts.services import user_role_set

pytestmark = pytest.mark.django_db


def _user(**extra):
    return get_user_model().objects.create_user(username="someone", password="x", **extra)


def test_the_roles_exist_as_groups_after_migrating():
    assert set(Group.objects.values_list("name", flat=True)) >= {MARKETER, ADMIN}


def test_a_user_without_a_role_has_none():
    assert user_roles(_user()) == frozenset()


def test_an_anonymous_user_has_no_role():
    assert user_roles(AnonymousUser()) == frozenset()


def test_a_marketer_is_only_a_marketer():
    user = _user()
    user_role_set(user=user, role=MARKETER)

    assert user_roles(get_user_model().objects.get(pk=user.pk)) == {MARKETER}


def test_an_admin_is_a_marketer_too():
    user = _user()
    user_role_set(user=user, role=ADMIN)

    assert user_roles(get_user_model().objects.get(pk=user.pk)) == {ADMIN, MARKETER}


def test_setting_a_role_replaces_the_other_role():
    user = _user()
    user_role_set(user=user, role=ADMIN)

    user_role_set(user=user, role=MARKETER)

    assert user_roles(get_user_model().objects.get(pk=user.pk)) == {MARKETER}


def test_a_superuser_is_an_admin_without_groups():
    assert user_roles(_user(is_superuser=True)) == {ADMIN, MARKETER}


def test_an_inactive_user_has_no_role():
    user = _user(is_active=False)
    user_role_set(user=user, role=ADMIN)

    assert user_roles(get_user_model().objects.get(pk=user.pk)) == frozenset()


def test_roles_are_read_once_per_user_object(django_assert_num_queries):
    user = _user()
    user_role_set(user=user, role=MARKETER)
    user = get_user_model().objects.get(pk=user.pk)

    with django_assert_num_queries(1):
        user_roles(user)
        user_roles(user)
