"""Migration operations of our own."""

from typing import Any

from django.db.migrations.operations.base import Operation


class SetLabels(Operation):
    """Set the labels (verbose names) of an app's models and fields in the migration state, one operation per app.

    Labels never reach the database. Written the usual way, as one `AlterField` per field, the back office's
    translatable labels (about a thousand) made every fresh test database spend minutes re-rendering the migration
    state; this reloads each model once. `models` maps a model name to its `options` (verbose_name,
    verbose_name_plural) and its `fields` (field name → label).
    """

    reduces_to_sql = False
    reversible = True

    def __init__(self, models: dict[str, dict[str, dict[str, str]]]) -> None:
        self.models = models

    def deconstruct(self) -> tuple[str, list, dict[str, Any]]:
        return (self.__class__.__qualname__, [], {"models": self.models})

    def state_forwards(self, app_label: str, state: Any) -> None:
        for model_name, change in self.models.items():
            model_state = state.models[app_label, model_name]
            model_state.options.update(change.get("options", {}))
            for name, label in change.get("fields", {}).items():
                field = model_state.fields[name]
                _, _path, args, kwargs = field.deconstruct()
                model_state.fields[name] = field.__class__(*args, **{**kwargs, "verbose_name": label})
        # One reload for the whole app; delayed, since a label changes nothing a related model holds.
        state.reload_models([(app_label, model_name) for model_name in self.models], delay=True)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        pass  # labels live in Python only

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        pass

    def describe(self) -> str:
        return f"Set the labels of {len(self.models)} models"

    @property
    def migration_name_fragment(self) -> str:
        return "labels"
