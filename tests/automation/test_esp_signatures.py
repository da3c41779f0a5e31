"""What each ESP's webhook accepts: Mailgun's HMAC signature, Amazon SNS's message checks and
subscription handshake (never reaching the network), and the settings as shipped, which
refuse every post until the secrets are set."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client

from contacts.models import Event
from tests.automation.esp_helpers import (
    esp_events,
    esp_settings,  # noqa: F401 (fixture)
    flow_message_sent,
    no_network,  # noqa: F401 (fixture)
    report,
    status_of,
)
from tests.automation.esp_payloads import SNS_TOPIC, Post, sns_post
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("esp_settings", "no_network")]


@pytest.fixture
def client():
    return Client()


def mailgun_bounce(sent, **overrides):
    return report("mailgun", "hard_bounce", sent, **overrides)


def resigned(post: Post, mutate) -> Post:
    """The post with its JSON changed by `mutate` after signing (the signature kept)."""
    payload = json.loads(post.body)
    mutate(payload)
    return Post(post.path, json.dumps(payload).encode(), post.content_type, post.headers)


# --- Mailgun --------------------------------------------------------------------------------


def test_mailgun_signed_with_the_signing_key_is_accepted(client):
    sent = flow_message_sent(contact=ContactFactory(), esp="mailgun")

    assert mailgun_bounce(sent).send(client).status_code == 200

    assert status_of(sent.contact) == "bounced"


@pytest.mark.parametrize(
    "tamper",
    [
        "signed with another key",
        "token changed",
        "timestamp changed",
        "signature missing",
        "signature block missing",
    ],
)
def test_mailgun_with_a_bad_signature_is_refused_and_changes_nothing(client, tamper):
    sent = flow_message_sent(contact=ContactFactory(), esp="mailgun")
    events_before = Event.objects.count()
    post = mailgun_bounce(sent, key="not-our-signing-key") if "another key" in tamper else None
    mutations = {
        "token changed": lambda p: p["signature"].update(token="f" * 50),
        "timestamp changed": lambda p: p["signature"].update(timestamp="1700000000"),
        "signature missing": lambda p: p["signature"].pop("signature"),
        "signature block missing": lambda p: p.pop("signature"),
    }
    if post is None:
        post = resigned(mailgun_bounce(sent), mutations[tamper])

    response = post.send(client)

    assert response.status_code == 400
    assert Event.objects.count() == events_before
    assert status_of(sent.contact) == "active"


# --- Amazon SES (SNS) -----------------------------------------------------------------------


def subscription_confirmation() -> dict:
    token = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3"
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": token,
        "TopicArn": SNS_TOPIC,
        "Message": f"You have chosen to subscribe to the topic {SNS_TOPIC}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
        f"&TopicArn={SNS_TOPIC}&Token={token}",
        "Timestamp": "2026-11-28T08:45:04.751Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+..",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    }


def test_sns_subscription_confirmation_is_answered_without_reaching_the_network(
    client,
    no_network,  # noqa: F811 (the fixture's list of attempts)
    caplog,
):
    with caplog.at_level(logging.WARNING, logger="automation.esp_views"):
        response = sns_post(subscription_confirmation()).send(client)

    assert response.status_code == 200
    assert no_network == []
    assert not Event.objects.exists()
    assert "ConfirmSubscription" in caplog.text  # the URL to confirm by hand


def test_sns_asks_for_credentials_first_and_refuses_wrong_ones(client):
    post = sns_post(subscription_confirmation())

    challenge = post.send(client, auth=None)
    wrong = post.send(client, auth="segflow:guess")

    assert challenge.status_code == 401
    assert challenge["WWW-Authenticate"].startswith("Basic ")
    assert wrong.status_code == 400


def test_sns_headers_that_disagree_with_the_body_are_refused(client):
    sent = flow_message_sent(contact=ContactFactory(), esp="amazon_ses")
    post = report("amazon_ses", "hard_bounce", sent)
    post.headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = "another-message"

    response = post.send(client)

    assert response.status_code == 400
    assert not esp_events("amazon_ses").exists()
    assert status_of(sent.contact) == "active"


def test_the_topic_validation_notice_after_subscribing_records_nothing(client):
    envelope = json.loads(report("amazon_ses", "delivered", None).body)
    envelope["Message"] = "Successfully validated SNS topic for Amazon SES event publishing."

    response = sns_post(envelope).send(client)

    assert response.status_code == 200
    assert not Event.objects.exists()


# --- the settings as shipped --------------------------------------------------------------


def shipped_anymail_settings(env: dict) -> dict:
    """settings.ANYMAIL as a fresh process with `env` builds it."""
    code = "import json, segflow.settings as s; print(json.dumps(s.ANYMAIL))"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_unset_secrets_are_random_so_every_post_is_refused(client, settings):
    unset = ("ANYMAIL_WEBHOOK_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY")
    env = {k: v for k, v in os.environ.items() if k not in unset}

    first, second = shipped_anymail_settings(env), shipped_anymail_settings(env)

    assert first["WEBHOOK_SECRET"].startswith("unset:")
    assert len(first["WEBHOOK_SECRET"]) > 40
    assert first["WEBHOOK_SECRET"] != second["WEBHOOK_SECRET"]
    assert first["MAILGUN_WEBHOOK_SIGNING_KEY"] != second["MAILGUN_WEBHOOK_SIGNING_KEY"]
    settings.ANYMAIL = first
    sent = flow_message_sent(contact=ContactFactory(), esp="postmark")
    for auth in (None, "segflow:hook-secret", "unset:"):
        assert report("postmark", "hard_bounce", sent).send(client, auth=auth).status_code == 400
    assert mailgun_bounce(sent).send(client).status_code == 400
    assert status_of(sent.contact) == "active"


def test_secrets_from_the_environment_are_used():
    env = dict(os.environ, ANYMAIL_WEBHOOK_SECRET="u:p", MAILGUN_WEBHOOK_SIGNING_KEY="mg")

    shipped = shipped_anymail_settings(env)

    assert (shipped["WEBHOOK_SECRET"], shipped["MAILGUN_WEBHOOK_SIGNING_KEY"]) == ("u:p", "mg")
