"""Tracking webhook posts shaped like each ESP's documented payloads (Postmark, Mailgun,
Brevo, Amazon SES via SNS), for one recipient of one message, with that ESP's auth.

Each builder takes a `kind` (delivered, opened, clicked, hard_bounce, soft_bounce,
complained, unsubscribed), the recipient, the ESP's message id, the metadata we sent, the
ESP's event id and a time, and returns a `Post` for the Django test client.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field

BASIC_AUTH = "segflow:hook-secret"
MAILGUN_SIGNING_KEY = "mailgun-signing-key-for-tests"
ESP_SETTINGS = {
    "WEBHOOK_SECRET": BASIC_AUTH,
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
}
CLICKED_URL = "https://shop.example.com/cart?utm_source=segflow"
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"
KINDS = ("delivered", "opened", "clicked", "hard_bounce", "complained", "unsubscribed")
EVENT_OF_KIND = {
    "delivered": "email.delivered",
    "opened": "email.opened",
    "clicked": "email.clicked",
    "hard_bounce": "email.bounced",
    "soft_bounce": "email.bounced",
    "complained": "email.complained",
    "unsubscribed": "email.unsubscribed",
}


def basic_auth_header(credentials: str = BASIC_AUTH) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@dataclass
class Post:
    path: str
    body: bytes
    content_type: str
    headers: dict = field(default_factory=dict)

    def send(self, client, *, auth: str | None = BASIC_AUTH):
        extra = dict(self.headers)
        if auth is not None:
            extra["HTTP_AUTHORIZATION"] = basic_auth_header(auth)
        return client.post(self.path, self.body, content_type=self.content_type, **extra)


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- Postmark: one JSON object per post, RecordType says which ------------------------------


def postmark(kind, *, recipient, message_id, metadata, event_id, at) -> Post:
    common = {
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Metadata": metadata,
        "Tag": "welcome",
        "ServerID": 23,
    }
    bounce = {
        **common,
        "RecordType": "Bounce",
        "ID": event_id,
        "Email": recipient,
        "From": "news@segflow.test",
        "BouncedAt": _iso(at),
        "DumpAvailable": True,
        "Subject": "Hello",
        "Content": "",
    }
    engagement = {
        **common,
        "Recipient": recipient,
        "ReceivedAt": _iso(at),
        "UserAgent": USER_AGENT,
        "OS": {"Name": "macOS", "Family": "OS X", "Company": "Apple Computer, Inc."},
        "Client": {"Name": "Safari", "Family": "Safari", "Company": "Apple"},
        "Geo": {"CountryISOCode": "FR", "Country": "France", "City": "Paris"},
    }
    payload = {
        "delivered": {
            **common,
            "RecordType": "Delivery",
            "Recipient": recipient,
            "DeliveredAt": _iso(at),
            "Details": "smtp;250 2.0.0 OK",
        },
        "opened": {**engagement, "RecordType": "Open", "FirstOpen": True, "ReadSeconds": 5},
        "clicked": {
            **engagement,
            "RecordType": "Click",
            "Platform": "Desktop",
            "ClickLocation": "HTML",
            "OriginalLink": CLICKED_URL,
        },
        "hard_bounce": {
            **bounce,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Name": "Hard bounce",
            "Description": "The server was unable to deliver your message (ex: unknown user, "
            "mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Inactive": True,
            "CanActivate": True,
        },
        "soft_bounce": {
            **bounce,
            "Type": "SoftBounce",
            "TypeCode": 4096,
            "Name": "Soft bounce/Undeliverable",
            "Description": "Unable to temporarily deliver this email.",
            "Details": "smtp;452 4.2.2 The email account that you tried to reach is over quota.",
            "Inactive": False,
            "CanActivate": True,
        },
        "complained": {
            **bounce,
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Name": "Spam complaint",
            "Description": "The subscriber explicitly marked this message as spam.",
            "Details": "Test spam complaint details",
            "Inactive": True,
            "CanActivate": False,
        },
        "unsubscribed": {
            **common,
            "RecordType": "SubscriptionChange",
            "ChangedAt": _iso(at),
            "Recipient": recipient,
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
        },
    }[kind]
    return Post(
        "/webhooks/esp/postmark/tracking/", json.dumps(payload).encode(), "application/json"
    )


# --- Mailgun: {"signature": {...}, "event-data": {...}}, HMAC-SHA256 of timestamp + token -----


def mailgun_signature(*, timestamp: str, token: str, key: str = MAILGUN_SIGNING_KEY) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def mailgun(kind, *, recipient, message_id, metadata, event_id, at, key=MAILGUN_SIGNING_KEY):
    timestamp = str(int(at.timestamp()))
    token = hashlib.sha256(f"token-{event_id}".encode()).hexdigest()[:50]
    data = {
        "id": f"mg-{event_id}",
        "timestamp": at.timestamp(),
        "log-level": "info",
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "message": {
            "headers": {
                "to": recipient,
                "message-id": message_id.strip("<>"),
                "from": "Segflow <news@mg.segflow.test>",
                "subject": "Hello",
            },
            "attachments": [],
            "size": 2412,
        },
        "tags": ["welcome"],
        "campaigns": [],
        "user-variables": metadata,
        "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
    }
    client_info = {
        "client-os": "macOS",
        "device-type": "desktop",
        "client-name": "Safari",
        "client-type": "browser",
        "user-agent": USER_AGENT,
    }
    geolocation = {"country": "FR", "region": "IDF", "city": "Paris"}
    failed = {
        "event": "failed",
        "log-level": "error",
        "envelope": {"transport": "smtp", "sender": "news@mg.segflow.test", "targets": recipient},
    }
    data.update(
        {
            "delivered": {
                "event": "delivered",
                "envelope": {"transport": "smtp", "targets": recipient},
                "delivery-status": {
                    "tls": True,
                    "mx-host": "mx.example.com",
                    "code": 250,
                    "description": "",
                    "attempt-no": 1,
                    "message": "OK",
                    "session-seconds": 0.43,
                },
            },
            "opened": {
                "event": "opened",
                "ip": "203.0.113.9",
                "client-info": client_info,
                "geolocation": geolocation,
            },
            "clicked": {
                "event": "clicked",
                "url": CLICKED_URL,
                "ip": "203.0.113.9",
                "client-info": client_info,
                "geolocation": geolocation,
            },
            "hard_bounce": {
                **failed,
                "severity": "permanent",
                "reason": "bounce",
                "delivery-status": {
                    "attempt-no": 1,
                    "code": 550,
                    "message": "5.1.1 The email account that you tried to reach does not exist.",
                    "description": "",
                    "session-seconds": 0.2,
                },
            },
            "soft_bounce": {
                **failed,
                "severity": "temporary",
                "reason": "generic",
                "delivery-status": {
                    "attempt-no": 1,
                    "code": 452,
                    "message": "4.2.2 The email account that you tried to reach is over quota.",
                    "description": "",
                    "retry-seconds": 600,
                },
            },
            "complained": {"event": "complained"},
            "unsubscribed": {
                "event": "unsubscribed",
                "ip": "203.0.113.9",
                "client-info": client_info,
                "geolocation": geolocation,
            },
        }[kind]
    )
    payload = {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(timestamp=timestamp, token=token, key=key),
        },
        "event-data": data,
    }
    return Post("/webhooks/esp/mailgun/tracking/", json.dumps(payload).encode(), "application/json")


# --- Brevo: transactional webhook, one flat JSON object; no event id --------------------------


def brevo(kind, *, recipient, message_id, metadata, event_id, at) -> Post:
    seconds = int(at.timestamp())
    payload = {
        "event": {
            "delivered": "delivered",
            "opened": "unique_opened",
            "clicked": "click",
            "hard_bounce": "hard_bounce",
            "soft_bounce": "soft_bounce",
            "complained": "spam",
            "unsubscribed": "unsubscribe",
        }[kind],
        "email": recipient,
        "id": 26224,  # the webhook's id in Brevo, the same for each of its posts
        "date": at.strftime("%Y-%m-%d %H:%M:%S"),
        "ts": seconds,
        "message-id": message_id,
        "ts_event": seconds,
        "subject": "Hello",
        "X-Mailin-custom": json.dumps(metadata),
        "sending_ip": "185.41.28.109",
        "ts_epoch": int(at.timestamp() * 1000),
        "tags": ["welcome"],
    }
    if kind == "clicked":
        payload["link"] = CLICKED_URL
    if kind == "hard_bounce":
        payload["reason"] = "550 5.1.1 The email account that you tried to reach does not exist"
    if kind == "soft_bounce":
        payload["reason"] = "452 4.2.2 Mailbox full"
    return Post("/webhooks/esp/brevo/tracking/", json.dumps(payload).encode(), "application/json")


# --- Amazon SES: an SNS Notification whose Message is the SES event (event publishing) -------

SNS_TOPIC = "arn:aws:sns:eu-west-1:111122223333:segflow-ses-events"


def sns_post(envelope: dict) -> Post:
    return Post(
        "/webhooks/esp/amazon_ses/tracking/",
        json.dumps(envelope).encode(),
        "text/plain; charset=UTF-8",
        {
            "HTTP_X_AMZ_SNS_MESSAGE_TYPE": envelope["Type"],
            "HTTP_X_AMZ_SNS_MESSAGE_ID": envelope["MessageId"],
            "HTTP_X_AMZ_SNS_TOPIC_ARN": envelope["TopicArn"],
        },
    )


def amazon_ses(kind, *, recipient, message_id, metadata, event_id, at) -> Post:
    mail = {
        "timestamp": _iso(at - dt.timedelta(minutes=1)),
        "source": "Segflow <news@segflow.test>",
        "sendingAccountId": "111122223333",
        "messageId": message_id,
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Segflow <news@segflow.test>"},
            {"name": "To", "value": recipient},
            {"name": "Subject", "value": "Hello"},
            {"name": "X-Metadata", "value": json.dumps(metadata)},
        ],
        "commonHeaders": {"from": ["Segflow <news@segflow.test>"], "to": [recipient]},
        "tags": {"ses:configuration-set": ["segflow"]},
    }
    bounce = {
        "bouncedRecipients": [
            {
                "emailAddress": recipient,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": _iso(at),
        "feedbackId": f"0100018c-{event_id}-000000",
        "reportingMTA": "dsn; a1-23.smtp-out.eu-west-1.amazonses.com",
    }
    event = {
        "delivered": {
            "eventType": "Delivery",
            "delivery": {
                "timestamp": _iso(at),
                "processingTimeMillis": 546,
                "recipients": [recipient],
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "a1-23.smtp-out.eu-west-1.amazonses.com",
            },
        },
        "opened": {
            "eventType": "Open",
            "open": {"ipAddress": "203.0.113.9", "timestamp": _iso(at), "userAgent": USER_AGENT},
        },
        "clicked": {
            "eventType": "Click",
            "click": {
                "ipAddress": "203.0.113.9",
                "link": CLICKED_URL,
                "linkTags": {},
                "timestamp": _iso(at),
                "userAgent": USER_AGENT,
            },
        },
        "hard_bounce": {
            "eventType": "Bounce",
            "bounce": {**bounce, "bounceType": "Permanent", "bounceSubType": "General"},
        },
        "soft_bounce": {
            "eventType": "Bounce",
            "bounce": {**bounce, "bounceType": "Transient", "bounceSubType": "MailboxFull"},
        },
        "complained": {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": recipient}],
                "timestamp": _iso(at),
                "feedbackId": f"0100018c-{event_id}-complaint",
                "userAgent": "Yahoo!-Mail-Feedback/2.0",
                "complaintFeedbackType": "abuse",
                "arrivalDate": _iso(at),
            },
        },
    }[kind]
    envelope = {
        "Type": "Notification",
        "MessageId": f"7d2f6e1a-0000-4000-8000-{int(event_id):012d}",
        "TopicArn": SNS_TOPIC,
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps({**event, "mail": mail}),
        "Timestamp": _iso(at),
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7f"
        "UQvi2egU3N"
        "858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-example.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"
        f"&SubscriptionArn={SNS_TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
    }
    return sns_post(envelope)


BUILDERS = {
    "postmark": postmark,
    "mailgun": mailgun,
    "brevo": brevo,
    "amazon_ses": amazon_ses,
}
# The ESP's message id as its send API returns it (what Message.provider_message_id holds).
PROVIDER_IDS = {
    "postmark": "0a129aee-e1cd-480d-b08d-4f48548ff48d",
    "mailgun": "<20261128090000.1.5A3C1F0B2D4E6A79@mg.segflow.test>",
    "brevo": "<202611280900.12345678901@smtp-relay.mailin.fr>",
    "amazon_ses": "0102018c1f2e3d4c-5b6a7988-0000-4000-8000-0000000000aa-000000",
}
# What each ESP reports (SES has no unsubscribe event; Mailgun's temporary failures are
# deferrals, not bounces).
KINDS_OF = {
    "postmark": (*KINDS, "soft_bounce"),
    "mailgun": KINDS,
    "brevo": (*KINDS, "soft_bounce"),
    "amazon_ses": ("delivered", "opened", "clicked", "hard_bounce", "complained", "soft_bounce"),
}
