"""Amazon SES tracking webhook view: anymail's, usable without boto3.

anymail's view builds boto3 parameters when it is created, so without boto3 installed every
SES post would fail with a 500. boto3 only serves the automatic confirmation of SNS
subscriptions; without it, that is off and a SubscriptionConfirmation is answered 200 with
its SubscribeURL in the log, to confirm by hand (docs/esp-webhooks.md). With boto3
installed, this is anymail's view unchanged.
"""

import logging

from anymail.webhooks.amazon_ses import AmazonSESBaseWebhookView, AmazonSESTrackingWebhookView

logger = logging.getLogger(__name__)

try:
    import boto3  # noqa: F401 (only whether it is there)
except ImportError:
    BOTO3_INSTALLED = False
else:
    BOTO3_INSTALLED = True


class SesTrackingWebhookView(AmazonSESTrackingWebhookView):
    def __init__(self, **kwargs):
        if BOTO3_INSTALLED:
            super().__init__(**kwargs)
            return
        self.auto_confirm_enabled = False
        self.session_params, self.client_params = {}, {}
        # anymail's base views after the SES one, which needs boto3 (basic auth is set there)
        super(AmazonSESBaseWebhookView, self).__init__(**kwargs)

    def auto_confirm_sns_subscription(self, sns_message):
        if self.auto_confirm_enabled:
            return super().auto_confirm_sns_subscription(sns_message)
        logger.warning(
            "Amazon SNS subscription of topic %s to the SES tracking webhook is not confirmed "
            "automatically; confirm it in the SNS console or open %s",
            sns_message.get("TopicArn"),
            sns_message.get("SubscribeURL"),
        )
        return None
