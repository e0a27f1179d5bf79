"""iamsim: would AWS IAM allow this request?

The compiled iamsim engine (Rust) for Python: parse policy documents, build a
policy set from layers, compile it once, and decide requests the way AWS does
(`allowed`, `explicitDeny`, `implicitDeny`, or `indeterminate` where a value
the request left unknown decides), with the statements that decided and the
context keys the request lacked.

>>> import iamsim
>>> p = iamsim.parse_policy('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}')
>>> compiled = iamsim.PolicySet(identity=[p]).compile()
>>> compiled.decide(iamsim.Request("arn:aws:iam::111122223333:user/alice", "s3:GetObject", "arn:aws:s3:::b/k")).kind
'allowed'

Beside the engine: :func:`replay` (CloudTrail against current or proposed
policies, the report as ``iamsim replay --report`` writes it), the AWS
service reference (:class:`Catalog`: expand, validate) and access queries
over whole accounts (:class:`Account`: who_can, principal_can,
can_access), answering with the fields of the CLI's ``--format json``.
"""

from ._iamsim import (
    Account,
    Catalog,
    CompiledPolicySet,
    Decision,
    InputError,
    MatchedStatement,
    Policy,
    PolicyError,
    PolicySet,
    Request,
    RequestError,
    __version__,
    parse_policy,
    replay,
)

__all__ = [
    "Account",
    "Catalog",
    "CompiledPolicySet",
    "Decision",
    "InputError",
    "MatchedStatement",
    "Policy",
    "PolicyError",
    "PolicySet",
    "Request",
    "RequestError",
    "__version__",
    "parse_policy",
    "replay",
]
