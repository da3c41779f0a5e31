"""Input and output shapes of the flows API. The definition keys (trigger, reentry,
exit_when, goal, holdout_percent, frequency_cap, steps) are checked by
automation.flow_definition, not here: the serializers only describe them for the schema, so
every definition error comes with its JSON path from one place."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automation.flow_definition import FREQUENCY_CAP_MODES, MAX_HOLDOUT_PERCENT
from automation.models import Enrollment, EnrollmentState, Flow, FlowStatus, FlowVersion
from segflow.api.serializers import StrictBooleanField, StrictCharField, StrictSerializer

DOCS = "docs/flows.md"
DEFINITION_FIELDS = (
    "trigger",
    "reentry",
    "exit_when",
    "goal",
    "holdout_percent",
    "frequency_cap",
    "steps",
)
_DEFAULTS = {"reentry": "never", "holdout_percent": 0, "frequency_cap": "delay"}


class DefinitionKeyField(serializers.JSONField):
    """In input, the key as given; in output, that key of the flow's definition."""

    def get_attribute(self, instance: Flow):
        return instance.definition.get(self.field_name, _DEFAULTS.get(self.field_name))


@extend_schema_field(
    {
        "type": "object",
        "description": 'What enrolls a contact: {"type": "segment_entered" | "segment_left", '
        '"segment": ID} or {"type": "event", "event": NAME, "where": [...]}.',
    }
)
class TriggerField(DefinitionKeyField):
    pass


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "enum": ["never", "always"]}, {"type": "object"}],
        "description": 'Re-entry policy: "never" (default), "always" or {"after": {"days": N}}.',
    }
)
class ReentryField(DefinitionKeyField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "Condition tree (docs/segments.md) checked before every step: true "
        "makes the enrollment exit.",
    }
)
class ExitWhenField(DefinitionKeyField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": 'Conversion goal: {"event": NAME, "within": {"days": N}}.',
    }
)
class GoalField(DefinitionKeyField):
    pass


@extend_schema_field(
    {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_HOLDOUT_PERCENT,
        "description": "Percent of enrollments held out (never messaged), for lift.",
    }
)
class HoldoutField(DefinitionKeyField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "enum": list(FREQUENCY_CAP_MODES),
        "description": "A send over the workspace's frequency cap: delayed until the cap "
        'allows ("delay", the default) or skipped ("skip"). docs/sending-rules.md',
    }
)
class FrequencyCapField(DefinitionKeyField):
    pass


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object"},
        "description": f"The steps, each with a stable id ({DOCS}).",
    }
)
class StepsField(DefinitionKeyField):
    pass


class _DefinitionInput(StrictSerializer):
    """The definition keys as given; flow_definition_clean checks them."""

    name = StrictCharField(max_length=200)
    trigger = TriggerField()
    reentry = ReentryField(required=False)
    exit_when = ExitWhenField(required=False, allow_null=True)
    goal = GoalField(required=False, allow_null=True)
    holdout_percent = HoldoutField(required=False)
    frequency_cap = FrequencyCapField(required=False)
    steps = StepsField()


class FlowCreateInputSerializer(_DefinitionInput):
    status = serializers.ChoiceField(
        choices=[FlowStatus.DRAFT, FlowStatus.ACTIVE],
        required=False,
        help_text='"active" activates the flow at once (future triggers only).',
    )


class FlowUpdateInputSerializer(_DefinitionInput):
    """Every key optional; status changes through activate / pause / archive."""

    ignored_keys = frozenset(
        {
            "id",
            "status",
            "live_version",
            "version_count",
            "unpublished_changes",
            "created_at",
            "updated_at",
        }
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class ActivateInputSerializer(StrictSerializer):
    enroll_current_members = StrictBooleanField(
        required=False,
        default=False,
        help_text="Also enroll the segment's current members, once (segment_entered "
        "triggers only). By default only future triggers enroll.",
    )


class FlowOutputSerializer(serializers.ModelSerializer):
    trigger = TriggerField(read_only=True)
    reentry = ReentryField(read_only=True)
    exit_when = ExitWhenField(read_only=True)
    goal = GoalField(read_only=True)
    holdout_percent = HoldoutField(read_only=True)
    frequency_cap = FrequencyCapField(read_only=True)
    steps = StepsField(read_only=True)
    live_version = serializers.SerializerMethodField(
        help_text="Number of the version new enrollments get; null before the first activation."
    )
    version_count = serializers.SerializerMethodField()
    unpublished_changes = serializers.SerializerMethodField(
        help_text="The definition differs from the live version: activate to publish it."
    )

    class Meta:
        model = Flow
        fields = [
            "id",
            "name",
            "status",
            *DEFINITION_FIELDS,
            "live_version",
            "version_count",
            "unpublished_changes",
            "created_at",
            "updated_at",
        ]

    def get_live_version(self, flow: Flow) -> int | None:
        return flow.live_version.number if flow.live_version else None

    def get_version_count(self, flow: Flow) -> int:
        count = getattr(flow, "version_count", None)
        return count if count is not None else flow.versions.count()

    def get_unpublished_changes(self, flow: Flow) -> bool:
        return flow.live_version is None or flow.live_version.definition != flow.definition


class FlowVersionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = FlowVersion
        fields = ["number", "trigger_type", "definition", "created_at"]


class EnrollmentOutputSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="contact_id")
    flow = serializers.IntegerField(source="flow_id")
    version = serializers.IntegerField(source="version.number", help_text="Version number")
    state = serializers.ChoiceField(choices=EnrollmentState.choices)
    step_id = serializers.CharField(
        allow_null=True, help_text="The next step (while active) or the last one reached."
    )
    delay_reason = serializers.CharField(
        help_text="Why its send step waits (quiet hours, frequency cap) until next_run_at; "
        "empty otherwise (docs/sending-rules.md)."
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "flow",
            "contact",
            "version",
            "state",
            "step_id",
            "next_run_at",
            "holdout",
            "exit_reason",
            "delay_reason",
            "enrolled_at",
            "ended_at",
        ]
