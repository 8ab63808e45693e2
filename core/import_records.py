"""Requests built from records: a JSON list, records JSONL, CSV rows or text lines, each
turned into a prompt by a `{field}` template (or the records' one prompt field), with model,
max_tokens and system from the import's options.

The custom_ids come from an id field (`ImportOptions.id_field`, or a `custom_id` / `id` field
when every record has a unique valid one), or are numbered `row-000001`, …, so they match
input rows. A valid id is never renamed; an invalid one is rewritten (with a warning on its
line) and kept as the request's original id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from . import model_catalog
from .models import ImportOptions, Severity, auto_custom_id
from .pricing import tokens_for_chars
from .request_checks import (
    CUSTOM_ID_RE,
    check_params,
    kind_of,
    model_problem,
    quoted,
    sanitize_custom_id,
)
from .templates import MissingField, Template, TemplateError, format_value

DEFAULT_PROMPT_FIELDS = ("prompt", "text", "content", "input", "question", "line")
AUTO_ID_FIELDS = ("custom_id", "id")
"""Record fields taken as custom_id without `--id-field` when every record has a unique,
valid one (the first field of these the first record has)."""


class AutoIdFailed(Exception):
    """A record without a unique valid value in the automatically chosen id field: the
    analysis starts again with numbered ids (see `importer.analyse`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class Sink(Protocol):
    """What records are built into (`importer._Analysis`)."""

    options: ImportOptions
    warned_models: set[str]

    def issue(
        self,
        severity: Severity,
        message: str,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None: ...

    def accept(  # records pass whole bodies (the native fast path also passes slices)
        self,
        line: int,
        cid: str,
        params: Mapping[str, Any],
        body: bytes,
        tokens: int,
        /,
        *,
        original_id: str | None,
    ) -> None: ...


def request_params(options: ImportOptions, text: str) -> dict[str, Any]:
    """The params of a request whose prompt is `text`, the rest from `options`."""
    params: dict[str, Any] = {"model": options.model, "max_tokens": options.max_tokens}
    if options.system:
        params["system"] = options.system
    params["messages"] = [{"role": "user", "content": text}]
    return params


class RecordBuilder:
    """Checks the options and the template once, then builds one request per record."""

    def __init__(self, a: Sink, *, auto_id: bool) -> None:
        self.a = a
        self.template: Template | None = None
        self.template_checked = False
        self.template_broken = False
        self.options_ok = True
        self.missing_once: set[str] = set()
        self.records = 0  # records seen (generated ids follow it, so they match input rows)
        self.raw_ids: dict[str, int] = {}  # the records' own ids → line
        self.taken: set[str] = set()  # custom_ids given to records
        self.rewritten: dict[str, int] = {}  # custom_id made from an invalid id → its line
        self.id_field = a.options.id_field
        self.auto_id = auto_id and not a.options.id_field  # may choose one of AUTO_ID_FIELDS
        self.id_auto = False  # id_field was chosen automatically

    def check_options(self) -> None:
        """Problems with the defaults that apply to every record: reported once."""
        probe = {
            "model": self.a.options.model,
            "max_tokens": self.a.options.max_tokens,
            "messages": [{"role": "user", "content": "x"}],
        }
        if self.a.options.system is not None:
            probe["system"] = self.a.options.system
        for severity, _fld, message in check_params(probe):
            if severity == "error":
                self.options_ok = False
            if message.startswith("params has no 'model'"):
                example = model_catalog.current().default_model() or "MODEL"
                message = f"No model given: choose one (e.g. --model {example})."
            elif message.startswith("params has no 'max_tokens'"):
                message = "No max_tokens given: set one (e.g. --max-tokens 1024)."
            self.a.issue(severity, message)
        problem = model_problem(self.a.options.model) if self.a.options.model else None
        if problem is not None and self.a.options.model:
            self.a.warned_models.add(self.a.options.model)
            self.a.issue(problem[0], problem[1])
        if self.a.options.template and not self.template_broken:
            try:
                self.template = Template(self.a.options.template)
            except TemplateError as exc:
                self.a.issue("error", f"The template is malformed: {exc}.", field="template")
                self.template_broken = True

    def first_record(self, record: Mapping[str, Any], line: int) -> None:
        """Check the template (or choose a default field) against the first record."""
        self.template_checked = True
        if self.template_broken:
            return
        fields = list(record)
        listed = ", ".join(fields[:30]) + (", …" if len(fields) > 30 else "")
        if self.auto_id:
            self.id_field = next((f for f in AUTO_ID_FIELDS if f in record), None)
            self.id_auto = self.id_field is not None
        if self.template is None:
            chosen = next((f for f in DEFAULT_PROMPT_FIELDS if f in record), None)
            others = [f for f in fields if f != self.id_field]
            if chosen is None and len(others) == 1:
                chosen = others[0]
            if chosen is None:
                self.a.issue(
                    "error",
                    f"No template given and the records have several fields ({listed}); "
                    "give a template such as '" + "{" + (fields[0] if fields else "field") + "}'.",
                    line,
                    field="template",
                )
                self.template_broken = True
                return
            self.template = Template.for_field(chosen)
        for name in self.template.missing_fields(record):
            self.missing_once.add(name)
            self.a.issue(
                "error",
                f"The template uses {{{name}}} but the records have no field {name!r}; "
                f"available fields: {listed or '(none)'}.",
                line,
                field="template",
            )
        if self.missing_once:
            self.template_broken = True
        if self.id_field and self.id_field not in record:
            self.a.issue(
                "error",
                f"The id field {self.a.options.id_field!r} is not in the records; "
                f"available fields: {listed or '(none)'}.",
                line,
                field="id_field",
            )
            self.template_broken = True

    def record(self, line: int, record: Any) -> None:
        self.records += 1
        if isinstance(record, str):
            record = {"text": record, "line": record, "prompt": record}
        if not isinstance(record, Mapping):
            self.a.issue(
                "error", f"Each record must be a JSON object, not {kind_of(record)}.", line
            )
            return
        if not self.template_checked:
            self.first_record(record, line)
        if self.template_broken or self.template is None:
            return
        try:
            text = self.template.render(record)
        except MissingField as exc:
            self.a.issue(
                "error",
                f"This record has no field {exc.field!r} (the template uses it).",
                line,
                field=exc.field,
            )
            return
        original: str | None = None
        if self.id_field:
            ids = self.record_id(line, record, self.id_field)
            if ids is None:
                return
            cid, original = ids
        else:
            cid = auto_custom_id(self.records, self.a.options.id_tag)
        if not text.strip():
            self.a.issue("error", "The prompt for this record is empty.", line)
            return
        if not self.options_ok:
            return
        params = request_params(self.a.options, text)
        body = self.body(cid, params)
        chars = len(text) + len(self.a.options.system or "")
        self.a.accept(line, cid, params, body, tokens_for_chars(chars), original_id=original)

    def record_id(
        self, line: int, record: Mapping[str, Any], id_field: str
    ) -> tuple[str, str | None] | None:
        """(custom_id, the record's own id if it had to be rewritten) from `id_field`, or
        None after reporting why not. A valid id is always kept as it is; an invalid one is
        rewritten (see `sanitize_custom_id`), with a warning on its line."""
        raw_value = record.get(id_field)
        if raw_value is None or (isinstance(raw_value, str) and not raw_value.strip()):
            if self.id_auto:
                raise AutoIdFailed(id_field, f"line {line} has no {id_field!r} value")
            self.a.issue("error", f"This record has no {id_field!r} value.", line, field=id_field)
            return None
        raw_id = format_value(raw_value)
        if raw_id in self.raw_ids:
            if self.id_auto:
                raise AutoIdFailed(
                    id_field, f"{quoted(raw_id)} is on line {self.raw_ids[raw_id]} and line {line}"
                )
            self.a.issue(
                "error",
                f"{id_field} {quoted(raw_id)} is used twice: on line {self.raw_ids[raw_id]} and "
                "on this line.",
                line,
                field=id_field,
            )
            return None
        self.raw_ids[raw_id] = line
        if CUSTOM_ID_RE.fullmatch(raw_id):
            if raw_id in self.rewritten:
                self.a.issue(
                    "error",
                    f"{id_field} {quoted(raw_id)} is the custom_id batchtop made from the invalid "
                    f"id on line {self.rewritten[raw_id]}; give one of them another id.",
                    line,
                    field=id_field,
                )
                return None
            self.taken.add(raw_id)
            return raw_id, None
        if self.id_auto:
            raise AutoIdFailed(
                id_field, f"{quoted(raw_id)} on line {line} is not a valid custom_id"
            )
        cid = sanitize_custom_id(raw_id, self.taken)
        self.rewritten[cid] = line
        self.a.issue(
            "warning",
            f"{id_field} {quoted(raw_id)} is not a valid custom_id (1 to 64 letters, digits, '_' "
            f"or '-'): it is sent as {cid!r}; the original id is kept for the results and "
            "exports.",
            line,
            field=id_field,
        )
        return cid, raw_id

    def txt_line(self, line: int, text: str) -> None:
        self.record(line, {"text": text, "line": text, "prompt": text, "line_number": line})

    @staticmethod
    def body(cid: str, params: Any) -> bytes:
        return orjson.dumps({"custom_id": cid, "params": params}, option=orjson.OPT_APPEND_NEWLINE)
