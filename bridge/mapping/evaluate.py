"""Evaluate a `MappingSet` against one event: pure, no I/O, no clock; returns the Pendo operations.

A field whose value is None is omitted: null means "this event carries no value for it", never "clear
the field in Pendo"; `clear()` says that (bridge.mapping.clearing) and becomes None in the operation. A field
whose expression fails is omitted with a warning; the other fields still go.
An expression that goes over a bound (`bridge.mapping.bounds`: the event's CPU time, the size of a value)
raises EvaluationError naming its rule and field instead: the event fails, the worker goes on.

Warnings quote an error's message only when its kind never carries the event's values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from jinja2.exceptions import SecurityError, UndefinedError

from bridge.billing import kinds, lifecycle, rollup, view
from bridge.billing.model import Facts, Identity, Subscription
from bridge.errors import EvaluationError
from bridge.mapping import bounds
from bridge.mapping.bounds import LimitExceeded
from bridge.mapping.clearing import is_clear
from bridge.mapping.functions import Functions
from bridge.mapping.identity import link_of, resolve
from bridge.mapping.loader import MappingSet, Rule
from bridge.mapping.operations import HOLD, MAP, MetadataUpdate, Outcome, TrackEvent
from bridge.mapping.sandbox import Expression
from bridge.providers import Event
from bridge.providers.registry import find, mapping_module, split

ANY_PROVIDER = "*"


@dataclass(frozen=True)
class EvalOptions:
    """The settings evaluation depends on (built from `Settings` by the caller)."""

    date_format: str = "iso"
    track_enabled: bool = True
    create_accounts: bool = False
    account_fallback: str = "none"
    visitor_fallback: str = "skip"
    synthetic_prefix: str = ""  # empty: `<provider>-customer-`, by the event's provider
    evaluation_seconds: float = bounds.EVALUATION_SECONDS  # CPU time per event


# Errors whose messages name types, attributes or bounds, never values (Python's, the sandbox's and Missing's).
QUOTED_ERRORS = (SecurityError, UndefinedError, TypeError, ArithmeticError, RecursionError)


def describe(exc: Exception) -> str:
    """An error as a warning may show it: its kind, and its message only when that cannot quote the event."""
    if isinstance(exc, QUOTED_ERRORS):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__} (its message is not shown: it may quote the event)"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _payload(event: Event, enrichment: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload a provider's own rules read: as its package shapes it (one shape for every API
    version, say), else as it came."""
    hooks = mapping_module(event.provider)
    shape = getattr(hooks, "payload", None)
    return shape(event, enrichment) if shape is not None else event.payload


def _facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What the event says in the billing model's terms, from its provider's package."""
    found = find(event.provider)
    return found.facts(event, enrichment) if found is not None else Facts(identity=Identity())


def _before(event: Event, facts: Facts, enrichment: Mapping[str, Any]) -> Subscription | None:
    """The subscription before this event: as the event says, else the stored previous snapshot (`prior`)."""
    if facts.before is not None or facts.subscription is None:
        return facts.before
    prior, found = _mapping(enrichment.get("prior")), find(event.provider)
    return found.subscription(prior) if prior and found is not None else None


def _tells_plans(event: Event, facts: Facts) -> bool:
    """Whether a plan change may be told from `before`: always when the event says it, else only for providers
    whose events never say what changed (their `TELLS_CHANGES` is false)."""
    found = find(event.provider)
    return facts.before is not None or not getattr(found, "TELLS_CHANGES", False)


def _account(event: Event, facts: Facts, obj: Mapping[str, Any], identity: Mapping[str, Any],
             enrichment: Mapping[str, Any]) -> Mapping[str, Any]:
    """The account roll-up: from billing state when the mapper loaded it, else this subscription alone."""
    if "account" in enrichment:
        return _with_subscription(event, _mapping(enrichment["account"]))
    if facts.subscription is None:
        return {}
    alone = rollup.Snapshot(facts.subscription, int(event.created * 1000), obj)
    return rollup.account([alone], identity.get("account_id"))


def _with_subscription(event: Event, account: Mapping[str, Any]) -> Mapping[str, Any]:
    """An account roll-up given with only its primary provider object (enrichment files written before the
    model) gets the model's view of it too."""
    primary, found = _mapping(account.get("primary")), find(event.provider)
    if "subscription" in account or not primary or found is None:
        return account
    return {**account, "subscription": view.subscription_view(found.subscription(primary))}


def _lifecycle(kind: str, before: Subscription | None, after: Subscription | None, plans: bool) -> dict[str, Any]:
    if after is None:
        return {"events": [], "mrr_lost": None, "interval_changed": None}
    return {"events": lifecycle.changes(kind, before, after, plans),
            "mrr_lost": view.number(lifecycle.mrr_lost(before, after)),
            "interval_changed": lifecycle.interval_changed(before, after)}


def context_variables(event: Event, enrichment: Mapping[str, Any], options: EvalOptions) -> dict[str, Any]:
    """The variables every expression sees (`loader.CONTEXT_NAMES`, docs/mappings.md)."""
    payload = _payload(event, enrichment)
    data = _mapping(payload.get("data"))
    obj = _mapping(data.get("object"))
    own_customer = event.type.startswith("customer.") and obj.get("object") == "customer"
    own_subscription = event.type.startswith("customer.subscription.")
    facts = _facts(event, enrichment)
    before = _before(event, facts, enrichment)
    identity = resolve(facts.identity, link_of(enrichment), account_fallback=options.account_fallback,
                       visitor_fallback=options.visitor_fallback,
                       synthetic_prefix=options.synthetic_prefix or f"{split(event.provider)[0]}-customer-",
                       connect_account=event.connect_account)
    kind = kinds.kind(facts, before)
    return {
        "provider": split(event.provider)[0],
        "source": split(event.provider)[1],
        "kind": kind,
        "facts": view.facts_view(facts),
        "before": view.subscription_view(before),
        "lifecycle": _lifecycle(kind, before, facts.subscription, plans=_tells_plans(event, facts)),
        "event": payload,
        "object": obj,
        "previous": _mapping(data.get("previous_attributes")),
        "event_type": event.type,
        "customer": obj if own_customer else _mapping(enrichment.get("customer")),
        "subscription": obj if own_subscription else _mapping(enrichment.get("subscription")),
        "identity": identity,
        "livemode": event.livemode,
        "connect_account": event.connect_account,
        "account": _account(event, facts, obj, identity, enrichment),
        "prior": _mapping(enrichment.get("prior")),
    }


def _is_json(value: Any) -> bool:
    """Whether a value can go to Pendo as it is: JSON scalars, lists and string-keyed objects, finite numbers."""
    if value is None or is_clear(value) or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_is_json(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _is_json(item) for key, item in value.items())
    return False


def _skip_reason(rule: Rule, event: Event, kind: str) -> str | None:
    """Why a rule does not apply: a rule for any provider (`provider: "*"`) matches the event's neutral kind,
    a provider's own rule its event type."""
    if rule.provider not in (ANY_PROVIDER, split(event.provider)[0]):
        return "provider does not match"
    matched = kind if rule.provider == ANY_PROVIDER else event.type
    if not any(fnmatchcase(matched, glob) for glob in rule.events):
        return "event type does not match"
    if event.connect_account and not rule.connect:
        return "Connect event"
    return None


@dataclass
class _Run:
    """Evaluation of one rule: its variables, and the outcome it adds to."""

    rule: Rule
    event: Event
    variables: Mapping[str, Any]
    options: EvalOptions
    outcome: Outcome

    def value(self, label: str, expression: Expression | None) -> Any:
        """An expression's value; an error becomes a warning and None."""
        if expression is None:
            return None
        try:
            value = expression(self.variables)
        except LimitExceeded as exc:
            raise EvaluationError(f"rule {self.rule.name}: field {label}: {exc}") from None
        except Exception as exc:  # any other failure of user code is a warning, never a crash
            self.outcome.warnings.append(f"rule {self.rule.name}: field {label}: {describe(exc)}")
            return None
        if not _is_json(value):
            self.outcome.warnings.append(f"rule {self.rule.name}: field {label}: not a JSON value")
            return None
        return value

    def values(self, fields: Mapping[str, Expression], clears: bool = True) -> dict[str, Any]:
        """The fields' values, null ones left out; a `clear()` becomes None (sent as JSON null) when `clears`,
        else it is left out too (a track property cannot be cleared)."""
        found = {name: self.value(name, expression) for name, expression in fields.items()}
        return {name: None if is_clear(value) else value for name, value in found.items()
                if value is not None and (clears or not is_clear(value))}

    def identifier(self, label: str, expression: Expression | None) -> str | None:
        value = self.value(label, expression)
        return None if value is None or value == "" else str(value)

    def _order(self, kind: str, id_: str) -> tuple[int, int]:
        """(source_time, rank): the account roll-up's revision when this event updated the billing state
        (docs/billing.md), else the event's own time and tie rank."""
        account = _mapping(self.variables["account"])
        if kind == "account" and account.get("revision") is not None and account.get("id") == id_:
            return int(account["source_time"]), rollup.RANK_BASE + int(account["revision"])
        status = _mapping(self.variables["object"]).get("status")
        tie_rank = getattr(mapping_module(self.event.provider), "tie_rank", None)
        rank = tie_rank(self.event.type, status if isinstance(status, str) else None) if tie_rank else 0
        return int(self.event.created * 1000), rank

    def update(self, kind: str, id_: str, values: dict[str, Any], create: bool) -> None:
        source_time, rank = self._order(kind, id_)
        self.outcome.operations.append(MetadataUpdate(
            kind=kind, id=id_, values=values, source_time=source_time, rank=rank, create=create,
            rule=self.rule.name,
        ))

    def track_fires(self) -> bool:
        """Whether the rule's track event is to be sent: tracking is on and its `when` holds."""
        track = self.rule.track
        if track is None or not self.options.track_enabled:
            return False
        return track.when is None or bool(self.value("track.when", track.when))

    def track(self, visitor_id: str, account_id: str | None) -> None:
        track = self.rule.track
        assert track is not None
        self.outcome.operations.append(TrackEvent(
            event=track.event, visitor_id=visitor_id, account_id=account_id,
            timestamp=int(self.event.created * 1000), properties=self.values(track.properties, clears=False),
            rule=self.rule.name,
        ))

    def apply(self) -> None:
        """Add the rule's operations, or mark it unresolved when its account fields have no account id, or when
        its visitor fields or track event have neither a visitor id nor an account id."""
        account_id = self.identifier("account_id", self.rule.account_id)
        if self.rule.account and account_id is None:
            self.outcome.unresolved.append(self.rule.name)
            return
        account_values = self.values(self.rule.account)
        if account_id is not None and account_values:
            self.update("account", account_id, account_values, self._may_create(account_id))
        tracks = self.track_fires()
        wants_visitor = bool(self.rule.visitor) or tracks
        visitor_id = self.identifier("visitor_id", self.rule.visitor_id) if wants_visitor else None
        if wants_visitor and visitor_id is None and account_id is None:  # nobody to attach anything to
            self.outcome.unresolved.append(self.rule.name)
            return
        if wants_visitor and visitor_id is None:
            warning = f"rule {self.rule.name}: no visitor id: visitor fields and track event skipped"
            self.outcome.warnings.append(warning)
            return
        visitor_values = self.values(self.rule.visitor)
        if visitor_id is not None and visitor_values:
            self.update("visitor", visitor_id, visitor_values, False)
        if visitor_id is not None and tracks:
            self.track(visitor_id, account_id)

    def _may_create(self, account_id: str) -> bool:
        identity = _mapping(self.variables["identity"])
        return (self.options.create_accounts and identity.get("account_source") == "metadata"
                and account_id == identity.get("account_id"))


def _admitted(event: Event) -> Outcome:
    """An empty outcome saying what the event's API version allows (docs/billing.md, "API versions")."""
    admit = getattr(mapping_module(event.provider), "admit", None)
    if admit is None:
        return Outcome()
    action, warning, newer = admit(event)
    return Outcome(warnings=[warning] if warning else [], admission=action, newer_version=newer)


def evaluate(
    mappings: MappingSet, event: Event, enrichment: Mapping[str, Any], options: EvalOptions
) -> Outcome:
    """Every rule against one event: the operations to send, and why rules matched or not. Raises
    EvaluationError when the event goes over a bound."""
    with bounds.evaluation(options.evaluation_seconds):
        return _evaluate(mappings, event, enrichment, options)


def _evaluate(mappings: MappingSet, event: Event, enrichment: Mapping[str, Any], options: EvalOptions) -> Outcome:
    outcome = _admitted(event)
    if outcome.admission != MAP:
        why = "held: newer API version" if outcome.admission == HOLD else "unsupported API version"
        outcome.skipped.update({rule.name: why for rule in mappings.rules})
        return outcome
    variables = {**context_variables(event, enrichment, options),
                 **Functions(options.date_format, mappings.lookups).namespace()}
    for rule in mappings.rules:
        reason = _skip_reason(rule, event, str(variables["kind"]))
        run = _Run(rule, event, variables, options, outcome)
        if reason is None and rule.when is not None and not run.value("when", rule.when):
            reason = "when is false"
        if reason is not None:
            outcome.skipped[rule.name] = reason
            continue
        outcome.matched.append(rule.name)
        run.apply()
    if outcome.matched:
        account = _mapping(variables["account"])
        outcome.warnings += [f"mrr not sent: {gap}" for gap in account.get("mrr_gaps") or []]
        plan_gap = _mapping(account.get("subscription")).get("plan_gap")
        outcome.warnings += [f"plan name is an id: {plan_gap}"] if plan_gap else []
    return outcome
