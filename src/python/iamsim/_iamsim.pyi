"""Type stubs of the extension module (src/bindings.rs)."""

import os

from typing import Any, Literal, Mapping, Optional, Sequence, Union, overload

__version__: str

# Argument types the replay entry points share (stub-only aliases, as typeshed writes them).
_StrPath = Union[str, "os.PathLike[str]"]
"""A file path."""
_PolicySource = Union[str, "os.PathLike[str]", bytes]
"""An authorization details file, by path or its bytes."""
_PoliciesByArn = Mapping[str, Union["Policy", Sequence["Policy"]]]
"""Identity policies by user or role ARN."""

class PolicyError(ValueError):
    """A policy document that does not parse."""

    file: str
    """The file or name the document was given as."""
    path: str
    """The JSON path of the offending element, e.g. ``Statement[2].Condition``."""
    line: Optional[int]
    """1-based line, when known."""
    column: Optional[int]
    """1-based column, when known."""
    kind: str
    """What kind of problem (``Syntax``, ``Missing``, ``Invalid``…)."""

class RequestError(ValueError):
    """A request that cannot be read: a malformed principal, context or JSON."""

class InputError(ValueError):
    """A catalog, authorization details or query that cannot be used, saying what and where."""

class Policy:
    """A parsed, validated policy document."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def statement_count(self) -> int: ...
    def to_json(self) -> str:
        """The document as normalised JSON text."""

def parse_policy(document: Union[str, bytes], name: str = "policy", kind: str = "identity") -> Policy:
    """Parse one policy document.

    ``kind``: identity, resource, permissions_boundary, session, scp, rcp or
    trust. Raises :class:`PolicyError` naming the file, line, column and JSON
    path of the first problem.
    """

class PolicySet:
    """The policies that apply to requests, by layer."""

    def __init__(
        self,
        identity: Sequence[Policy] = ...,
        permissions_boundary: Optional[Policy] = None,
        session: Optional[Sequence[Policy]] = None,
        resource: Optional[Policy] = None,
        scps: Sequence[Sequence[Policy]] = ...,
        rcps: Sequence[Sequence[Policy]] = ...,
    ) -> None: ...
    @staticmethod
    def from_bundle(bundle: Union[str, bytes], name: str = "bundle") -> "PolicySet":
        """A set from an ``eval`` bundle's JSON text."""
    def compile(self) -> "CompiledPolicySet":
        """Compile the set once for deciding (the GIL is released meanwhile)."""

class Request:
    """One request: who, what, on which resource, with which context."""

    def __init__(
        self,
        principal: str,
        action: str,
        resource: str,
        context: Optional[Mapping[str, Any]] = None,
        resource_account: Optional[str] = None,
        open_world: bool = False,
        user_credentials: str = "long_term",
    ) -> None: ...
    @staticmethod
    def from_json(text: str) -> "Request":
        """A request from an ``eval`` line's JSON text."""
    @property
    def principal(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def resource(self) -> str: ...

class MatchedStatement:
    """One statement that decided a request."""

    layer: str
    policy_index: int
    statement_index: int
    policy: str
    sid: Optional[str]
    effect: str

class Decision:
    """A decision with its explanation (read on demand)."""

    @property
    def kind(self) -> str:
        """``allowed``, ``explicitDeny``, ``implicitDeny`` or ``indeterminate``."""
    @property
    def allowed(self) -> bool: ...
    @property
    def statements(self) -> list[MatchedStatement]:
        """The statements that decided it."""
    @property
    def missing_context_keys(self) -> list[str]:
        """Condition keys (lower-cased) the request lacked."""
    @property
    def unknown_context_keys(self) -> list[str]:
        """Condition keys (lower-cased) the request left unknown."""
    @property
    def missing_allow(self) -> Optional[str]:
        """For an implicit deny: the layer no statement of which allows it."""
    @property
    def unknown_credentials(self) -> bool:
        """For an indeterminate decision: the IAM user's credentials (given as
        ``user_credentials="unknown"``) may be refused for this action."""

class CompiledPolicySet:
    """A compiled policy set: immutable, shared by every thread."""

    def decide(self, request: Request) -> Decision:
        """Decide one request, explained."""
    def verdict(self, request: Request) -> str:
        """The verdict alone."""
    def decide_many(self, requests: Sequence[Request]) -> list[Decision]:
        """Decide every request in parallel with the GIL released, in order."""
    def decide_arrow(self, data: Any, open_world: bool = False) -> Any:
        """Decide a ``pyarrow.Table`` or ``pyarrow.RecordBatch`` of requests.

        Columns ``principal``, ``action``, ``resource`` (strings, required),
        ``resource_account`` and ``context``, optional: ``context`` is a JSON
        object per row, or a struct whose fields are the keys (strings,
        booleans, int64, lists of strings; null: not given), which is read
        without parsing JSON. Returns the same kind, row for row: ``decision``,
        ``statements`` (``layer:policy:statement``), ``missing_context_keys``,
        ``unknown_context_keys``. No Python object is made per row.
        """
    @property
    def statement_count(self) -> int: ...

class Catalog:
    """The AWS service reference: services, actions, resource types, condition keys."""

    @staticmethod
    def load(path: _StrPath) -> "Catalog":
        """A snapshot file, an ``iam-catalog`` directory, or AWS service-reference files."""
    @property
    def action_count(self) -> int: ...
    def expand(self, patterns: Sequence[str]) -> list[str]:
        """The catalog actions any of the patterns matches, in catalog order."""
    def validate(self, document: Union[str, bytes], name: str = "policy", kind: str = "identity") -> list[dict[str, Any]]:
        """Findings (``severity``, ``code``, ``path``, ``line``, ``column``, ``message``)."""

class Account:
    """Accounts from ``get-account-authorization-details``, compiled once for access queries."""

    def __init__(
        self,
        authorization_details: Sequence[Union[str, bytes]],
        managed_policies: Optional[_StrPath] = None,
        scps: Sequence[Sequence[Policy]] = ...,
        rcps: Sequence[Sequence[Policy]] = ...,
        resource_policies: Optional[Mapping[str, Policy]] = None,
        context: Optional[Mapping[str, Any]] = None,
        closed_context: bool = False,
    ) -> None: ...
    @property
    def principals(self) -> list[str]: ...
    def who_can(
        self, action: str, resource: str, catalog: Optional[Catalog] = None, resource_account: Optional[str] = None
    ) -> dict[str, Any]:
        """``who-can --format json``: actions, principals, answers, denied, not_allowed."""
    def principal_can(
        self,
        principals: Union[str, Sequence[str]],
        catalog: Catalog,
        services: Sequence[str] = ...,
        access_levels: Sequence[str] = ...,
    ) -> Any:
        """``principal-can --format json`` for one principal (a dict) or several (a list)."""
    def can_access(
        self, principal: str, resource: str, catalog: Catalog, resource_account: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """Every action of the resource's service, with the principal's access."""

@overload
def replay(
    cloudtrail: Sequence[_StrPath],
    authorization_details: Sequence[_PolicySource] = ...,
    managed_policies: Optional[_StrPath] = None,
    policies: Optional[_PoliciesByArn] = None,
    overrides: Optional[_PoliciesByArn] = None,
    scps: Sequence[Sequence[Policy]] = ...,
    resource_policies: Optional[Mapping[str, Policy]] = None,
    catalog: Optional[Catalog] = None,
    threads: Optional[int] = None,
    decisions: Literal[False] = False,
) -> dict[str, Any]:
    """Replay CloudTrail logs; the report with ``iamsim replay --report``'s fields."""

@overload
def replay(
    cloudtrail: Sequence[_StrPath],
    authorization_details: Sequence[_PolicySource] = ...,
    managed_policies: Optional[_StrPath] = None,
    policies: Optional[_PoliciesByArn] = None,
    overrides: Optional[_PoliciesByArn] = None,
    scps: Sequence[Sequence[Policy]] = ...,
    resource_policies: Optional[Mapping[str, Policy]] = None,
    catalog: Optional[Catalog] = None,
    threads: Optional[int] = None,
    decisions: Literal[True] = ...,
) -> tuple[dict[str, Any], Any]:
    """Replay CloudTrail logs; the report, and every decided check as a
    ``pyarrow.Table`` with the fields of ``iamsim replay --out``."""

def is_log_file_name(name: str) -> bool:
    """Whether a file found in a folder is read as a log (as ``replay`` walks folders)."""

def session_tags(name: str, content: bytes) -> str:
    """Role sessions created by one log file's ``AssumeRole`` calls, with their tags (JSON, for ``ReplayWorker.set_session_tags``)."""

class ReplayWorker:
    """A replayer fed log files' bytes (one per Spark Python worker; see ``iamsim.spark``)."""

    def __init__(
        self,
        authorization_details: Sequence[_PolicySource] = ...,
        managed_policies: Optional[_StrPath] = None,
        policies: Optional[_PoliciesByArn] = None,
        overrides: Optional[_PoliciesByArn] = None,
        scps: Sequence[Sequence[Policy]] = ...,
        resource_policies: Optional[Mapping[str, Policy]] = None,
        catalog: Optional[Catalog] = None,
        decisions: bool = False,
    ) -> None: ...
    def replay_bytes(self, name: str, content: bytes) -> list[str]:
        """Replay one file's bytes; with ``decisions``, its decided checks as JSON texts."""
    @property
    def tests_principal_tags(self) -> bool:
        """Whether a policy tests ``aws:PrincipalTag`` (read the logs' session tags first)."""
    def set_session_tags(self, parts: Sequence[str]) -> None:
        """Role sessions' tags from ``session_tags`` of every log file, merged."""
    def take_partial(self) -> str:
        """What the files since the last call found (JSON), and a fresh start (compiled policies kept)."""
    def finish(self, partials: Sequence[str], seconds: float) -> dict[str, Any]:
        """The report of all the partials."""
